"""Parsing holiday files: whatever the bytes, the result is holidays or IcsError."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk.hours.ics import IcsError, export_holidays, parse_holidays


def test_a_multi_day_event_gives_one_holiday_per_day():
    data = export_holidays("T", [(dt.date(2026, 1, 1), "A")]).replace(
        b"DTEND;VALUE=DATE:20260102", b"DTEND;VALUE=DATE:20260104"
    )
    parsed = parse_holidays(data)
    assert parsed.holidays == [(dt.date(2026, 1, d), "A") for d in (1, 2, 3)]


def test_a_recurring_event_is_skipped_with_a_reason():
    data = export_holidays("T", [(dt.date(2026, 12, 25), "Christmas")]).replace(
        b"SUMMARY:Christmas", b"SUMMARY:Christmas\r\nRRULE:FREQ=YEARLY"
    )
    parsed = parse_holidays(data)
    assert parsed.holidays == []
    assert parsed.skipped == ["'Christmas': recurring events are not expanded; list each date"]


def event_file(*lines: str) -> bytes:
    body = "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", *lines, "END:VEVENT", "END:VCALENDAR"]
    )
    return body.encode()


def test_a_duration_in_days_gives_one_holiday_per_day():
    parsed = parse_holidays(
        event_file("DTSTART;VALUE=DATE:20261228", "DURATION:P3D", "SUMMARY:Shutdown")
    )
    assert [day for day, _ in parsed.holidays] == [dt.date(2026, 12, d) for d in (28, 29, 30)]


def test_extra_dates_of_a_recurring_event_are_reported_not_dropped():
    parsed = parse_holidays(
        event_file("DTSTART;VALUE=DATE:20261224", "RDATE;VALUE=DATE:20261231", "SUMMARY:Half day")
    )
    assert parsed.holidays == []
    assert "recurring events are not expanded" in parsed.skipped[0]


def test_a_second_summary_does_not_garble_the_name():
    parsed = parse_holidays(
        event_file("DTSTART;VALUE=DATE:20261224", "SUMMARY:Company day", "SUMMARY:second")
    )
    assert parsed.holidays == [(dt.date(2026, 12, 24), "Company day")]


def test_an_event_at_the_end_of_time_is_skipped_not_a_crash():
    parsed = parse_holidays(event_file("DTSTART;VALUE=DATE:99991231", "SUMMARY:Doom"))
    assert parsed.holidays == []
    assert parsed.skipped and "'Doom'" in parsed.skipped[0]


def test_an_event_of_months_is_not_a_holiday():
    data = export_holidays("T", [(dt.date(2026, 1, 1), "Sabbatical")]).replace(
        b"DTEND;VALUE=DATE:20260102", b"DTEND;VALUE=DATE:20260601"
    )
    assert "spans 151 days" in parse_holidays(data).skipped[0]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_are_either_read_or_refused_with_ics_error(data):
    # Framed so the parser itself sees the garbage, not only the quick checks.
    try:
        parse_holidays(b"BEGIN:VCALENDAR\r\n" + data + b"\r\nEND:VCALENDAR\r\n")
    except IcsError:
        pass


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "BEGIN:VEVENT",
                "END:VEVENT",
                "DTSTART;VALUE=DATE:20261225",
                "DTSTART:bad",
                "DTEND;VALUE=DATE:20261224",
                "SUMMARY:x",
                "RRULE:FREQ=YEARLY",
                "END:VCALENDAR",
                "DTSTART;TZID=Nowhere/Zone:20260101T000000",
                "BEGIN:VTIMEZONE",
                ":::",
                "DTEND:",
            ]
        ),
        max_size=12,
    )
)
def test_malformed_structures_are_read_or_refused_with_ics_error(lines):
    data = "\r\n".join(["BEGIN:VCALENDAR", *lines, "END:VCALENDAR"]).encode()
    try:
        parse_holidays(data)
    except IcsError:
        pass
