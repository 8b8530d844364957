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


def test_an_event_of_months_is_not_a_holiday():
    data = export_holidays("T", [(dt.date(2026, 1, 1), "Sabbatical")]).replace(
        b"DTEND;VALUE=DATE:20260102", b"DTEND;VALUE=DATE:20260601"
    )
    assert "spans 151 days" in parse_holidays(data).skipped[0]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_are_either_read_or_refused_with_ics_error(data):
    try:
        parse_holidays(b"BEGIN:VCALENDAR\r\n" + data)
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
    data = "\r\n".join(["BEGIN:VCALENDAR", *lines]).encode()
    try:
        parse_holidays(data)
    except IcsError:
        pass
