"""The business clock, pinned down by named examples and checked against a brute-force oracle.

The oracle knows nothing of the clock's tables: it reads an instant's wall clock and local
date through zoneinfo and looks the weekday's intervals up directly. Open time is counted
minute by minute over UTC instants, which is exact here because every zone used has
whole-minute offsets and every generated interval boundary is a whole minute.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk.hours import clock as clock_module
from casedesk.hours.clock import (
    BusinessClock,
    CalendarNeverCloses,
    CalendarNeverOpens,
    always_open_clock,
    parse_duration,
)

pytestmark = pytest.mark.no_database  # the clock's pure arithmetic: the PostgreSQL pass skips it

UTC = dt.UTC
CHICAGO = ZoneInfo("America/Chicago")
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
US = dt.timedelta(microseconds=1)
WEEKDAYS_7_TO_19 = {day: [("07:00", "19:00")] for day in range(5)}

# Oracle calls per example stay in the thousands, so a few hundred examples run in seconds.
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chicago(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, fold: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=CHICAGO, fold=fold)


# The oracle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """A calendar as plain data: the oracle reads this, the clock is built from it."""

    zone: str
    weekly: dict[int, list[tuple[int, int]]]  # minutes of the day, end may be 1440
    holidays: frozenset[dt.date]

    def clock(self) -> BusinessClock:
        def hhmm(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        weekly = {day: [(hhmm(s), hhmm(e)) for s, e in spans] for day, spans in self.weekly.items()}
        return BusinessClock(self.zone, weekly, self.holidays)

    def open_at(self, t: dt.datetime) -> bool:
        local = t.astimezone(ZoneInfo(self.zone))
        if local.date() in self.holidays:
            return False
        us = ((local.hour * 60 + local.minute) * 60 + local.second) * 10**6 + local.microsecond
        return any(
            s * 60 * 10**6 <= us < e * 60 * 10**6 for s, e in self.weekly.get(local.weekday(), [])
        )

    def open_minutes(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Open time in [a, b) for minute-aligned a and b, one minute at a time."""
        count = 0
        t = a
        while t < b:
            count += self.open_at(t)
            t += MINUTE
        return count * MINUTE

    def opens_24x7(self) -> bool:
        return all(self.weekly.get(day) == [(0, 1440)] for day in range(7))


# Anchors: daylight-saving changes in several years and zones, year ends, quiet weeks.
ANCHORS: dict[str, list[dt.datetime]] = {
    "America/Chicago": [
        dt.datetime(2024, 3, 10, 2),
        dt.datetime(2024, 11, 3, 1),
        dt.datetime(2025, 3, 9, 2),
        dt.datetime(2025, 11, 2, 1),
        dt.datetime(2026, 3, 8, 2),
        dt.datetime(2026, 11, 1, 1),
        dt.datetime(2027, 3, 14, 2),
        dt.datetime(2027, 11, 7, 1),
        dt.datetime(2026, 12, 31, 18),
        dt.datetime(2026, 7, 3, 12),
    ],
    "Australia/Adelaide": [
        dt.datetime(2026, 4, 5, 2),
        dt.datetime(2026, 10, 4, 2),
        dt.datetime(2025, 10, 5, 2),
        dt.datetime(2025, 12, 31, 20),
    ],
    "Asia/Kathmandu": [dt.datetime(2026, 12, 31, 22), dt.datetime(2026, 5, 15, 9)],
    "Europe/London": [dt.datetime(2026, 3, 29, 1), dt.datetime(2026, 10, 25, 1)],
    # Changes at local midnight, so a local date starts twice or at 01:00.
    "America/Santiago": [dt.datetime(2026, 4, 4, 23), dt.datetime(2026, 9, 6, 1)],
    # A half-hour daylight-saving change.
    "Australia/Lord_Howe": [dt.datetime(2026, 4, 5, 1), dt.datetime(2026, 10, 4, 2)],
}

PRESETS: dict[str, dict[int, list[tuple[int, int]]]] = {
    "24x7": {day: [(0, 1440)] for day in range(7)},
    "weekdays 07-19": {day: [(420, 1140)] for day in range(5)},
    "lunch break": {day: [(540, 720), (780, 1020)] for day in range(5)},
    # Night shifts touching across midnight, and hours inside the changes' hour.
    "nights": {day: [(0, 180), (1200, 1440)] for day in range(7)},
}

intervals = st.tuples(st.integers(0, 287), st.integers(1, 96)).map(
    lambda p: (p[0] * 5, min(1440, p[0] * 5 + p[1] * 5))
)
random_weekly = st.dictionaries(st.integers(0, 6), st.lists(intervals, min_size=1, max_size=3))


@st.composite
def calendars_and_windows(draw: st.DrawFn) -> tuple[Calendar, dt.datetime, dt.datetime]:
    """A calendar and a minute-aligned UTC window [a, b) of up to three days near an anchor."""
    zone = draw(st.sampled_from(sorted(ANCHORS)))
    anchor = draw(st.sampled_from(ANCHORS[zone])).replace(tzinfo=ZoneInfo(zone))
    a = anchor.astimezone(UTC) + draw(st.integers(-2 * 1440, 2 * 1440)) * MINUTE
    b = a + draw(st.integers(0, 3 * 1440)) * MINUTE
    preset = draw(st.sampled_from([*sorted(PRESETS), "random"]))
    weekly = draw(random_weekly) if preset == "random" else PRESETS[preset]
    # Holidays anywhere near the window, so some fall beside weekends.
    first = (a - dt.timedelta(days=2)).date()
    days = draw(st.sets(st.integers(0, 8), max_size=3))
    holidays = frozenset(first + dt.timedelta(days=d) for d in days)
    return Calendar(zone, dict(weekly), holidays), a, b


durations = st.integers(0, 400 * 60).map(lambda m: m * MINUTE) | st.integers(0, 10**12).map(
    lambda us: us * US
)


# Properties ----------------------------------------------------------------------------


@PROPERTY
@given(calendars_and_windows(), st.integers(0, 59_999_999))
def test_is_open_agrees_with_the_wall_clock_oracle(
    case: tuple[Calendar, dt.datetime, dt.datetime], jitter_us: int
) -> None:
    calendar, a, b = case
    clock = calendar.clock()
    for t in (a, b, a + jitter_us * US, b - jitter_us * US):
        assert clock.is_open(t) == calendar.open_at(t), t


@PROPERTY
@given(calendars_and_windows())
def test_between_agrees_with_minute_by_minute_oracle(
    case: tuple[Calendar, dt.datetime, dt.datetime],
) -> None:
    calendar, a, b = case
    assert calendar.clock().between(a, b) == calendar.open_minutes(a, b)


@PROPERTY
@given(calendars_and_windows(), st.integers(0, 3 * 1440))
def test_between_is_additive(
    case: tuple[Calendar, dt.datetime, dt.datetime], extra_minutes: int
) -> None:
    calendar, a, b = case
    clock = calendar.clock()
    c = b + extra_minutes * MINUTE + dt.timedelta(microseconds=extra_minutes)
    assert clock.between(a, b) + clock.between(b, c) == clock.between(a, c)


@PROPERTY
@given(calendars_and_windows(), durations, st.integers(0, 59_999_999))
def test_add_returns_the_earliest_instant_with_that_much_open_time(
    case: tuple[Calendar, dt.datetime, dt.datetime], d: dt.timedelta, jitter_us: int
) -> None:
    calendar, a, _ = case
    clock = calendar.clock()
    t = a + jitter_us * US
    try:
        u = clock.add(t, d)
    except CalendarNeverOpens:
        assert not any(calendar.weekly.values())
        return
    assert u.tzinfo is UTC
    assert u >= t
    assert clock.between(t, u) == d
    if d:
        # One microsecond earlier is not enough: the result is the earliest such instant.
        assert clock.between(t, u - US) < d
        assert calendar.open_at(u - US)


@PROPERTY
@given(calendars_and_windows(), durations, durations)
def test_add_is_monotonic_in_start_and_duration(
    case: tuple[Calendar, dt.datetime, dt.datetime], d1: dt.timedelta, d2: dt.timedelta
) -> None:
    calendar, a, b = case
    if not any(calendar.weekly.values()):
        return
    clock = calendar.clock()
    small, large = sorted((d1, d2))
    assert clock.add(a, small) <= clock.add(a, large)
    assert clock.add(a, small) <= clock.add(b, small)


@PROPERTY
@given(calendars_and_windows())
def test_add_of_zero_is_the_start_itself(case: tuple[Calendar, dt.datetime, dt.datetime]) -> None:
    calendar, a, _ = case
    assert calendar.clock().add(a, dt.timedelta(0)) == a


@PROPERTY
@given(calendars_and_windows(), st.integers(0, 59_999_999))
def test_next_open_is_open_and_nothing_before_it_is(
    case: tuple[Calendar, dt.datetime, dt.datetime], jitter_us: int
) -> None:
    calendar, a, _ = case
    clock = calendar.clock()
    t = a + jitter_us * US
    try:
        n = clock.next_open(t)
    except CalendarNeverOpens:
        assert not any(calendar.weekly.values())
        return
    assert calendar.open_at(n)
    assert clock.is_open(n)
    assert clock.between(t, n) == dt.timedelta(0)
    if calendar.open_at(t):
        assert n == t
    else:
        assert n > t
        assert not calendar.open_at(n - US)
        assert not clock.is_open(n - US)
    # Walk the gap with the oracle too, when it is short enough to walk.
    if n - t <= dt.timedelta(days=3):
        minute = t
        while minute < n:
            assert not calendar.open_at(minute), minute
            minute += MINUTE


@PROPERTY
@given(calendars_and_windows(), st.integers(0, 59_999_999))
def test_next_close_ends_the_current_or_next_open_stretch(
    case: tuple[Calendar, dt.datetime, dt.datetime], jitter_us: int
) -> None:
    calendar, a, _ = case
    clock = calendar.clock()
    t = a + jitter_us * US
    if not any(calendar.weekly.values()):
        with pytest.raises(CalendarNeverOpens):
            clock.next_close(t)
        return
    n = clock.next_open(t)
    open_day = n.astimezone(ZoneInfo(calendar.zone)).date()
    if calendar.opens_24x7() and not any(h > open_day for h in calendar.holidays):
        with pytest.raises(CalendarNeverCloses):
            clock.next_close(t)
        return
    c = clock.next_close(t)
    assert t < c
    assert n < c
    assert not calendar.open_at(c)
    assert not clock.is_open(c)
    assert calendar.open_at(c - US)
    assert clock.is_open(c - US)
    assert clock.between(n, c) == c - n  # open all the way from n to c
    if c - n <= dt.timedelta(days=3):
        minute = n
        while minute < c:
            assert calendar.open_at(minute), minute
            minute += MINUTE


@PROPERTY
@given(calendars_and_windows())
def test_naive_datetimes_are_rejected_everywhere(
    case: tuple[Calendar, dt.datetime, dt.datetime],
) -> None:
    calendar, a, b = case
    clock = calendar.clock()
    naive = a.replace(tzinfo=None)
    calls: list[Callable[[], object]] = [
        lambda: clock.is_open(naive),
        lambda: clock.next_open(naive),
        lambda: clock.next_close(naive),
        lambda: clock.between(naive, b),
        lambda: clock.between(a, naive),
        lambda: clock.add(naive, HOUR),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="naive"):
            call()


# Named examples ------------------------------------------------------------------------


def test_two_hours_from_christmas_eve_evening_are_due_monday_0900() -> None:
    # Thursday 2026-12-24 18:00 CST is inside 07:00-19:00 but Christmas Eve is a holiday;
    # Friday the 25th is Christmas; Saturday and Sunday are closed. The first open minute
    # is Monday 2026-12-28 07:00 CST, and two hours later is 09:00 CST = 15:00 UTC.
    clock = BusinessClock(
        "America/Chicago", WEEKDAYS_7_TO_19, {dt.date(2026, 12, 24), dt.date(2026, 12, 25)}
    )
    due = clock.add(chicago(2026, 12, 24, 18), 2 * HOUR)
    assert due == dt.datetime(2026, 12, 28, 15, tzinfo=UTC)
    assert due == chicago(2026, 12, 28, 9)


def test_friday_1800_plus_two_hours_is_monday_0800() -> None:
    # One hour left on Friday 2026-06-05 (18:00-19:00), the other on Monday 07:00-08:00.
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    assert clock.add(chicago(2026, 6, 5, 18), 2 * HOUR) == chicago(2026, 6, 8, 8)


def test_a_due_time_exactly_at_closing_is_the_closing_instant() -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    assert clock.add(chicago(2026, 6, 5, 17), 2 * HOUR) == chicago(2026, 6, 5, 19)


def test_the_spring_forward_day_holds_23_hours_around_the_clock() -> None:
    clock = always_open_clock("America/Chicago")
    assert clock.between(chicago(2026, 3, 8), chicago(2026, 3, 9)) == 23 * HOUR


def test_the_autumn_day_holds_25_hours_around_the_clock() -> None:
    clock = BusinessClock.always("America/Chicago")
    assert clock.between(chicago(2026, 11, 1), chicago(2026, 11, 2)) == 25 * HOUR


def test_a_repeated_wall_time_is_open_both_times() -> None:
    # 01:30 occurs at 06:30 UTC (CDT) and again at 07:30 UTC (CST) on 2026-11-01.
    clock = BusinessClock("America/Chicago", {6: [("01:00", "02:00")]})
    first, second = chicago(2026, 11, 1, 1, 30), chicago(2026, 11, 1, 1, 30, fold=1)
    assert first.astimezone(UTC).hour == 6 and second.astimezone(UTC).hour == 7
    assert clock.is_open(first) and clock.is_open(second)
    assert clock.between(chicago(2026, 11, 1), chicago(2026, 11, 1, 3)) == 2 * HOUR
    assert clock.next_close(first) == chicago(2026, 11, 1, 2)  # 08:00 UTC, after both


def test_a_skipped_wall_time_is_never_open() -> None:
    # 02:00-03:00 does not occur on 2026-03-08 in Chicago; 02:30 "fold=0" means 03:30 CDT.
    clock = BusinessClock("America/Chicago", {6: [("02:00", "03:00")]})
    assert not clock.is_open(chicago(2026, 3, 8, 2, 30))
    assert clock.between(chicago(2026, 3, 8), chicago(2026, 3, 9)) == dt.timedelta(0)
    assert clock.next_open(chicago(2026, 3, 8)) == chicago(2026, 3, 15, 2)


def test_a_lunch_break_is_not_open_time() -> None:
    clock = BusinessClock("America/Chicago", {0: [("09:00", "12:00"), ("13:00", "17:00")]})
    monday = (2026, 6, 1)
    assert not clock.is_open(chicago(*monday, 12, 30))
    assert clock.between(chicago(*monday, 11), chicago(*monday, 14)) == 2 * HOUR
    assert clock.next_close(chicago(*monday, 10)) == chicago(*monday, 12)
    assert clock.add(chicago(*monday, 11, 30), HOUR) == chicago(*monday, 13, 30)


def test_a_quarter_hour_zone_maps_hours_to_quarter_hours_in_utc() -> None:
    clock = BusinessClock("Asia/Kathmandu", {0: [("09:00", "17:00")]})  # +05:45
    assert clock.next_open(dt.datetime(2026, 6, 1, tzinfo=UTC)) == dt.datetime(
        2026, 6, 1, 3, 15, tzinfo=UTC
    )


def test_adelaide_spring_forward_day_holds_23_hours() -> None:
    adelaide = ZoneInfo("Australia/Adelaide")  # +09:30 -> +10:30 on 2026-10-04
    clock = always_open_clock(adelaide)
    day = dt.datetime(2026, 10, 4, tzinfo=adelaide)
    assert clock.between(day, day + dt.timedelta(days=1)) == 23 * HOUR


def test_an_interval_includes_its_start_and_excludes_its_end() -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    assert not clock.is_open(chicago(2026, 6, 1, 7) - US)
    assert clock.is_open(chicago(2026, 6, 1, 7))
    assert clock.is_open(chicago(2026, 6, 1, 19) - US)
    assert not clock.is_open(chicago(2026, 6, 1, 19))


def test_next_open_at_a_closing_instant_is_the_next_opening() -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    assert clock.next_open(chicago(2026, 6, 1, 19)) == chicago(2026, 6, 2, 7)
    assert clock.next_close(chicago(2026, 6, 1, 19)) == chicago(2026, 6, 2, 19)


def test_next_open_at_an_open_instant_is_that_instant_in_utc() -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    t = chicago(2026, 6, 1, 9, 15, 30) + 7 * US
    assert clock.next_open(t) == t
    assert clock.next_open(t).tzinfo is UTC


def test_intervals_touching_across_midnight_close_once() -> None:
    clock = BusinessClock("America/Chicago", {0: [("20:00", "24:00")], 1: [("00:00", "04:00")]})
    assert clock.next_close(chicago(2026, 6, 1, 21)) == chicago(2026, 6, 2, 4)


def test_an_open_stretch_across_the_year_end_closes_once() -> None:
    # 24x7 with New Year's Day 2027 off: open from the 2026 Christmas holiday's end through
    # the UTC year end (18:00 CST) to local midnight, across table boundaries.
    clock = BusinessClock(
        "America/Chicago",
        {day: [("00:00", "24:00")] for day in range(7)},
        {dt.date(2026, 12, 25), dt.date(2027, 1, 1)},
    )
    assert clock.next_close(chicago(2026, 12, 26, 5)) == chicago(2027, 1, 1)
    assert clock.next_open(chicago(2027, 1, 1, 12)) == chicago(2027, 1, 2)


def test_a_24x7_calendar_closes_at_a_holiday_years_away_without_walking_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = BusinessClock(
        "America/Chicago", {day: [("00:00", "24:00")] for day in range(7)}, [dt.date(2100, 7, 5)]
    )
    built = count_calls(monkeypatch, clock, "_build")
    assert clock.next_close(chicago(2026, 1, 1)) == chicago(2100, 7, 5)
    assert built() <= 2


def test_a_24x7_calendar_without_holidays_never_closes() -> None:
    with pytest.raises(CalendarNeverCloses, match="never closes"):
        always_open_clock().next_close(dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_a_24x7_calendar_whose_holidays_are_past_never_closes() -> None:
    clock = BusinessClock(
        "America/Chicago", {day: [("00:00", "24:00")] for day in range(7)}, [dt.date(2020, 1, 1)]
    )
    with pytest.raises(CalendarNeverCloses):
        clock.next_close(chicago(2026, 1, 1))


@pytest.mark.parametrize(
    "weekly",
    [{}, {0: []}, {0: [("09:00", "09:00")]}],
    ids=["no days", "empty day", "empty interval"],
)
def test_a_calendar_without_open_time_never_opens(weekly: dict[int, Any]) -> None:
    clock = BusinessClock("America/Chicago", weekly)
    t = chicago(2026, 6, 1)
    with pytest.raises(CalendarNeverOpens, match="never opens"):
        clock.add(t, HOUR)
    with pytest.raises(CalendarNeverOpens):
        clock.next_open(t)
    assert not clock.is_open(t)
    assert clock.between(t, t + dt.timedelta(days=400)) == dt.timedelta(0)


def test_overlapping_intervals_are_merged() -> None:
    clock = BusinessClock("UTC", {0: [("09:00", "12:00"), ("11:00", "14:00"), ("14:00", "15:00")]})
    monday = dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert clock.between(monday, monday + dt.timedelta(days=1)) == 6 * HOUR
    assert clock.next_close(monday) == monday + 15 * HOUR


def test_time_objects_and_seconds_are_accepted() -> None:
    by_text = BusinessClock("UTC", {0: [("09:00:30", "17:00")]})
    by_time = BusinessClock(dt.UTC, {0: [(dt.time(9, 0, 30), "17:00:00")]})
    monday = dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert (
        by_text.next_open(monday) == by_time.next_open(monday) == monday.replace(hour=9, second=30)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weekly": {7: [("09:00", "17:00")]}}, "bad weekday 7"),
        ({"weekly": {"mon": [("09:00", "17:00")]}}, "bad weekday 'mon'"),
        ({"weekly": {0: [("9am", "17:00")]}}, "'9am'"),
        ({"weekly": {0: [("09:00", "25:00")]}}, "'25:00'"),
        ({"weekly": {0: [("09:60", "17:00")]}}, "'09:60'"),
        ({"weekly": {0: [("24:00", "24:00")]}}, "'24:00'"),
        ({"weekly": {0: [("17:00", "09:00")]}}, "starts after it ends"),
        ({"weekly": {0: [("17:00", "00:00")]}}, "ends at '24:00'"),
        ({"weekly": {0: [("09:00",)]}}, "pair"),
        ({"tz": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"tz": "America"}, "unknown time zone"),
        ({"holidays": [dt.datetime(2026, 1, 1, tzinfo=UTC)]}, "datetime.date"),
    ],
)
def test_the_constructor_rejects_bad_configuration(kwargs: dict[str, Any], message: str) -> None:
    config: dict[str, Any] = {"tz": "UTC", "weekly": WEEKDAYS_7_TO_19, "holidays": ()}
    config.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BusinessClock(**config)


def test_add_rejects_a_negative_duration() -> None:
    with pytest.raises(ValueError, match="negative"):
        always_open_clock().add(dt.datetime(2026, 1, 1, tzinfo=UTC), -US)


def test_between_rejects_an_end_before_the_start() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="before start"):
        always_open_clock().between(t, t - US)


# Cost: counted, not timed (timings live in bench/clock.py) -----------------------------


def count_calls(
    monkeypatch: pytest.MonkeyPatch, clock: BusinessClock, name: str
) -> Callable[[], int]:
    """Wrap one of the clock's methods with a counter; return a reader for it."""
    original = getattr(clock, name)
    calls = [0]

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return original(*args)

    monkeypatch.setattr(clock, name, counting)
    return lambda: calls[0]


def test_a_year_long_between_does_as_much_work_as_a_week_long_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19, [dt.date(2026, 12, 25)])
    start = chicago(2026, 2, 2, 10)
    clock.between(start, start + dt.timedelta(days=3700))  # build 2026..2036 once
    # Work = table lookups plus prefix-sum bisects; building is counted separately.
    table_at = count_calls(monkeypatch, clock, "_table_at")
    table = count_calls(monkeypatch, clock, "_table")
    built = count_calls(monkeypatch, clock, "_build")
    bisects = [0]
    original = clock_module._cum_at

    def counting_cum_at(*args: Any) -> int:
        bisects[0] += 1
        return original(*args)

    monkeypatch.setattr(clock_module, "_cum_at", counting_cum_at)

    def cost(days: int) -> tuple[dt.timedelta, int]:
        before = table_at() + table() + bisects[0]
        result = clock.between(start, start + dt.timedelta(days=days))
        return result, table_at() + table() + bisects[0] - before

    (week, week_cost), (year, year_cost), (_, decade_cost) = cost(7), cost(365), cost(3650)
    # 52 weeks of 60 h, one more weekday (Mon 10:00 to Tue 10:00), minus Christmas.
    assert (week, year) == (60 * HOUR, (52 * 60 + 12 - 12) * HOUR)
    assert week_cost == 3  # one table, two bisects
    assert year_cost == 4  # the span reaches into 2027's table: one more lookup
    assert decade_cost == 13  # one lookup per year crossed, never per day
    assert built() == 0


def test_a_long_add_touches_each_year_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    lookups = count_calls(monkeypatch, clock, "_table")
    built = count_calls(monkeypatch, clock, "_build")
    due = clock.add(chicago(2026, 1, 5, 7), 5 * 52 * 60 * HOUR)  # about five years of weeks
    assert chicago(2030, 12, 20) < due < chicago(2031, 1, 10)
    assert lookups() <= 7 and built() <= 7


def test_tables_built_concurrently_agree() -> None:
    clock = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    start = chicago(2026, 1, 1)
    results: list[dt.timedelta] = []

    def work() -> None:
        results.append(clock.between(start, start + dt.timedelta(days=3 * 365)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = BusinessClock("America/Chicago", WEEKDAYS_7_TO_19)
    assert results == [fresh.between(start, start + dt.timedelta(days=3 * 365))] * 8


# parse_duration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", dt.timedelta(minutes=90)),
        ("4h", 4 * HOUR),
        ("36h", 36 * HOUR),
        ("2h30m", dt.timedelta(hours=2, minutes=30)),
        ("1d", 24 * HOUR),
        ("45s", dt.timedelta(seconds=45)),
        ("1d 2h", 26 * HOUR),
        ("PT2H", 2 * HOUR),
        ("pt1h30m", dt.timedelta(minutes=90)),
        ("P1DT1S", dt.timedelta(days=1, seconds=1)),
        ("0m", dt.timedelta(0)),
    ],
)
def test_parse_duration_reads_short_and_iso_forms(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "90", "2x", "30m2h", "2h2h", "-1h", "PT", "P1DT", "1.5h", "9999999999d"]
)
def test_parse_duration_rejects_garbage_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)
