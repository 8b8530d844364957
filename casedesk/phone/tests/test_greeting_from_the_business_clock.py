"""The greeting says when support reopens in the calendar's zone, from the calendar: across
the end of daylight saving time and over the Thanksgiving holiday."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk.hours.services import current_calendar, status
from casedesk.phone import speech


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Saturday 31 October 2026, 20:00 CDT; clocks go back on Sunday 1 November: Monday
        # 7 AM is CST, 13:00 UTC (not 12:00 as it would be in CDT).
        (datetime(2026, 11, 1, 1, 0, tzinfo=UTC), "reopens Monday at 7 AM Central"),
        # Spring forward (Sunday 8 March 2026): Monday 7 AM is CDT, 12:00 UTC.
        (datetime(2026, 3, 8, 15, 0, tzinfo=UTC), "reopens Monday at 7 AM Central"),
        # Thanksgiving, Thursday 26 November 2026 at noon, and the day after is closed too.
        (datetime(2026, 11, 26, 18, 0, tzinfo=UTC), "reopens Monday at 7 AM Central"),
        # A weeknight: tomorrow morning.
        (datetime(2026, 12, 2, 3, 30, tzinfo=UTC), "reopens Wednesday at 7 AM Central"),
    ],
)
def test_the_closed_greeting_says_when_support_reopens(db, now, expected):
    hours = status(current_calendar(), now)
    assert not hours.open
    assert expected in speech.greeting(hours)
    assert hours.next_open is not None
    assert hours.next_open.astimezone(hours.calendar.zone).hour == 7


def test_the_reopening_instant_moves_in_utc_across_the_clock_change(db):
    before = status(current_calendar(), datetime(2026, 11, 1, 1, 0, tzinfo=UTC))
    assert before.next_open == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    spring = status(current_calendar(), datetime(2026, 3, 8, 15, 0, tzinfo=UTC))
    assert spring.next_open == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def test_a_long_closure_names_the_date(db):
    """Christmas Eve to the day after Christmas (Thursday 24 to Friday 25 December 2026) and
    a weekend: from Wednesday night the next opening is Monday 28 December."""
    hours = status(current_calendar(), datetime(2026, 12, 24, 3, 0, tzinfo=UTC))
    assert "reopens Monday at 7 AM Central" in speech.greeting(hours)
    far = speech.when(
        datetime(2027, 1, 4, 13, 0, tzinfo=UTC),
        datetime(2026, 12, 24, 3, 0, tzinfo=UTC),
        hours.calendar.zone,
    )
    assert far == "Monday, January 4 at 7 AM Central"


def test_the_open_greeting_lists_the_hours_and_the_other_channels(db):
    hours = status(current_calendar(), datetime(2026, 12, 1, 18, 0, tzinfo=UTC))
    text = speech.greeting(hours)
    assert "For a critical emergency" in text and "press 1" in text
    assert "chat, the portal or email" in text
    assert "Monday to Friday, 7 AM to 7 PM Central" in text


@pytest.mark.parametrize(
    ("hour", "minute", "spoken"),
    [(0, 0, "midnight"), (12, 0, "noon"), (7, 0, "7 AM"), (19, 30, "7:30 PM"), (0, 5, "12:05 AM")],
)
def test_clock_times_are_spoken(hour, minute, spoken):
    from datetime import time

    assert speech.clock_time(time(hour, minute)) == spoken
