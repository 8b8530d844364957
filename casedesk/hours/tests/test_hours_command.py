"""`casedesk hours`: due times from the command line, and holidays imported from .ics files."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from casedesk.hours.models import Calendar, Holiday

pytestmark = pytest.mark.django_db


def hours(*args: str) -> str:
    out = StringIO()
    call_command("hours", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_two_business_hours_from_christmas_eve_evening_is_monday_9am():
    # 24 and 25 December are holidays, then the weekend: Monday 28th 07:00 + 2h.
    assert hours("due", "--start", "2026-12-24T18:00:00-06:00", "--duration", "2h") == (
        "2026-12-28T09:00:00-06:00"
    )


def test_due_on_the_24x7_calendar_counts_every_hour():
    due = hours(
        "due", "--start", "2026-12-24T18:00:00-06:00", "--duration", "2h", "--calendar", "24x7"
    )
    assert due == "2026-12-25T02:00:00+00:00"  # the 24x7 calendar's zone is UTC


def test_due_answers_in_the_calendars_zone_whatever_offset_it_was_asked_in():
    assert hours("due", "--start", "2026-12-01T16:00:00Z", "--duration", "90m") == (
        "2026-12-01T11:30:00-06:00"
    )


def test_due_across_the_spring_change_shows_daylight_time():
    # Friday 18:00-19:00 CST gives one hour; the other starts Monday 9 March at
    # 07:00 CDT, after the clocks went forward. With the start's fixed -06:00
    # this would read 07:00, the wrong wall-clock time.
    assert hours("due", "--start", "2026-03-06T18:00:00-06:00", "--duration", "2h") == (
        "2026-03-09T08:00:00-05:00"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "tomorrow", "--duration", "2h"], "not an ISO 8601 date and time"),
        (["--start", "2026-12-24T18:00:00", "--duration", "2h"], "has no UTC offset"),
        (["--start", "2026-12-24T18:00:00Z", "--duration", "soon"], "--duration:"),
        (
            ["--start", "2026-12-24T18:00:00Z", "--duration", "2h", "--calendar", "x"],
            "no calendar named 'x'",
        ),
        (["--start", "9999-12-31T23:00:00+00:00", "--duration", "2h"], "no due time within"),
        (["--start", "2026-12-24T18:00:00Z", "--duration", "100000000h"], "--duration|no due time"),
    ],
)
def test_due_with_bad_input_says_what_to_fix(args, message):
    with pytest.raises(CommandError, match=message):
        hours("due", *args)


def test_status_prints_the_same_json_as_the_api():
    body = json.loads(hours("status"))
    assert set(body) == {"open", "now", "next_open", "next_close", "timezone", "calendar"}


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example Corp//Holidays//EN\r
BEGIN:VEVENT\r
UID:1@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART;VALUE=DATE:20261231\r
DTEND;VALUE=DATE:20270101\r
SUMMARY:Year-end shutdown\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART;VALUE=DATE:20260817\r
DTEND;VALUE=DATE:20260819\r
SUMMARY:Company offsite\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART:20260310T140000Z\r
DTEND:20260310T150000Z\r
SUMMARY:All-hands meeting\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_import_ics_adds_all_day_events_and_reports_what_it_skipped(tmp_path):
    path = tmp_path / "company.ics"
    path.write_bytes(ICS)
    out, err = StringIO(), StringIO()
    call_command("hours", "import-ics", str(path), "--calendar", "default", stdout=out, stderr=err)
    assert "3 holiday(s) added, 0 updated, 1 event(s) skipped" in out.getvalue()
    assert "'All-hands meeting': a timed event" in err.getvalue()
    dates = set(Holiday.objects.values_list("date", flat=True))
    assert dates == {dt.date(2026, 12, 31), dt.date(2026, 8, 17), dt.date(2026, 8, 18)}


def test_import_ics_twice_updates_instead_of_duplicating(tmp_path):
    path = tmp_path / "company.ics"
    path.write_bytes(ICS)
    hours("import-ics", str(path), "--calendar", "default")
    assert "0 holiday(s) added, 3 updated" in hours(
        "import-ics", str(path), "--calendar", "default"
    )
    assert Holiday.objects.count() == 3


def test_imported_holidays_close_the_desk_even_for_a_clock_already_cached(tmp_path):
    from casedesk.hours.services import current_calendar

    monday = dt.datetime(2026, 8, 17, 15, 0, tzinfo=dt.UTC)
    assert current_calendar().clock.is_open(monday)  # the clock is now cached
    path = tmp_path / "company.ics"
    path.write_bytes(ICS)
    hours("import-ics", str(path), "--calendar", "default")  # 17 and 18 August off
    assert not current_calendar().clock.is_open(monday)
    assert hours("due", "--start", "2026-08-14T18:00:00-05:00", "--duration", "2h") == (
        "2026-08-19T08:00:00-05:00"
    )


def test_export_then_import_round_trips_the_holidays(client, tmp_path):
    other = Calendar.objects.create(name="copy", title="Copy", time_zone="America/Chicago")
    path = tmp_path / "export.ics"
    path.write_bytes(client.get("/hours/holidays.ics").content)
    hours("import-ics", str(path), "--calendar", "copy")
    exported = Calendar.objects.get(name="default").holidays_between(2026, 2026)
    imported = other.holidays_between(2026, 2026)
    assert imported == exported


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an iCalendar file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not an iCalendar file"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261201\r\n", "cut short"),
    ],
)
def test_import_ics_refuses_garbage_with_a_clear_error_and_changes_nothing(
    tmp_path, content, message
):
    path = tmp_path / "bad.ics"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        hours("import-ics", str(path), "--calendar", "default")
    assert not Holiday.objects.exists()


def test_an_event_with_an_unreadable_date_is_skipped_and_named(tmp_path):
    path = tmp_path / "odd.ics"
    path.write_bytes(ICS.replace(b"DTSTART;VALUE=DATE:20260817", b"DTSTART;VALUE=DATE:2026xx17"))
    err = StringIO()
    out = StringIO()
    call_command("hours", "import-ics", str(path), "--calendar", "default", stdout=out, stderr=err)
    assert "1 holiday(s) added" in out.getvalue()
    assert "'Company offsite'" in err.getvalue()


def test_import_ics_into_an_unknown_calendar_or_from_a_missing_file_fails_clearly(tmp_path):
    with pytest.raises(CommandError, match="no calendar named 'nope'"):
        hours("import-ics", str(tmp_path / "x.ics"), "--calendar", "nope")
    with pytest.raises(CommandError, match="cannot read"):
        hours("import-ics", str(tmp_path / "missing.ics"), "--calendar", "default")
