"""The business clock: which instants a desk is open, and how much open time lies between two.

Pure Python (standard library only, no Django) so it can be tested and benchmarked alone.

Definitions. An instant is open when its wall-clock reading in the desk's zone falls inside
one of that weekday's ``[start, end)`` intervals and its local date is not a holiday. Open time
is real elapsed time: a 24x7 day holds 23 hours on the spring change and 25 on the autumn
one, a wall reading that occurs twice is open both times, and one that never occurs never is.

Design. Open time is stored as sorted, merged, non-overlapping UTC intervals in integer
microseconds since the epoch, with a prefix sum of open time, one table per *UTC* year, built
on first use and cached on the instance. Every query is then a bisect or two:
``between(a, b) = cum(b) - cum(a)``, ``add(t, d)`` bisects the prefix sums for ``cum(t) + d``,
and ``is_open`` / ``next_open`` / ``next_close`` bisect the interval starts.

Why UTC years rather than local years: a chunk boundary must be an instant, and a local
midnight can be skipped or repeated (some zones change offset at midnight), so the start of
a local year is not always well defined. A UTC year is, and the wall-clock rules are applied
inside it through constant-offset runs (see ``_offset_runs``), so no local boundary is ever
needed. The price is that an open interval can straddle a chunk boundary; the queries that
care (``next_close``, ``add`` and ``between`` spilling over) join touching intervals across
chunks, so callers still see one interval.

Why not step through time: a year's table is built by walking its ~367 local days once; that
is precomputation shared by every later call. A 24x7 calendar with a holiday years away is
the one case where walking chunk after chunk would be long, so ``next_close`` jumps straight
to the day before the next holiday (``_hop_to_holiday``).

Thread safety: tables are immutable once built; building happens under a lock and is
published by a single dict assignment, so concurrent callers see either no table or a
complete one.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BusinessClock",
    "CalendarNeverCloses",
    "CalendarNeverOpens",
    "always_open_clock",
    "parse_duration",
]

TimeOfDay = str | dt.time
Weekly = Mapping[int, Iterable[tuple[TimeOfDay, TimeOfDay]]]

_SECOND_US = 1_000_000
_DAY_US = 86_400 * _SECOND_US
_ONE_US = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# One year short of datetime's limits at both ends, so that a chunk's neighbours and the
# local dates around it (offsets reach +-14 h) are always representable.
_MIN_YEAR = 2
_MAX_YEAR = 9998
# Offset changes are found by probing every six hours and bisecting (a year costs ~1,500
# probes, once per zone per process). Two changes less than six hours apart that cancel out
# would be missed; no zone in tzdata has such a pair since 1970.
_PROBE_SECONDS = 6 * 3600
_ALL_DAY = ((0, _DAY_US),)


class CalendarNeverOpens(ValueError):
    """The calendar has no open time after the given instant, so the question has no answer."""


class CalendarNeverCloses(ValueError):
    """The calendar is open at every instant after the given one, so it never closes."""


@dataclass(frozen=True, slots=True)
class _YearTable:
    """Open time inside one UTC year ``[start_us, end_us)``.

    ``cum[i]`` is the open time before interval ``i``; ``cum[-1]`` is the year's total.
    """

    year: int
    start_us: int
    end_us: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    cum: tuple[int, ...]


def _year_start_us(year: int) -> int:
    """Microseconds from the epoch to 1 January of ``year``, 00:00 UTC (any year, no limits)."""
    y = year - 1
    ordinal = y * 365 + y // 4 - y // 100 + y // 400 + 1
    return (ordinal - _EPOCH_ORDINAL) * _DAY_US


# Start of every UTC year 1..10000: the year holding an instant is one C-level bisect away.
_YEAR_STARTS_US = tuple(_year_start_us(year) for year in range(1, 10_001))


def _offset_us(zone: dt.tzinfo, second: int) -> int:
    """The zone's UTC offset, in microseconds, at ``second`` seconds since the epoch."""
    offset = dt.datetime.fromtimestamp(second, zone).utcoffset()
    assert offset is not None  # fromtimestamp() with a zone always yields an aware datetime
    return offset // _ONE_US


@functools.lru_cache(maxsize=2048)
def _offset_runs(zone: dt.tzinfo, year: int) -> tuple[tuple[int, int, int], ...]:
    """Split a UTC year into runs ``(start_us, end_us, offset_us)`` of constant UTC offset.

    Cached per (zone, year) at module level because it depends on the zone alone, and
    tests build many clocks in the same zones.

    1. Start a run at the year's first second with the offset found there.
    2. Probe six hours further (never past the year's last second).
    3. If the probe has the same offset, move there and repeat step 2.
    4. Otherwise bisect between the last agreeing second and the probe until they are one
       second apart: tzdata transitions fall on whole seconds, so the later one is the
       first second with the new offset. Close the run there, open the next, go to 2.
    5. Close the last run at the year's end.
    """
    lo = _year_start_us(year) // _SECOND_US
    hi = _year_start_us(year + 1) // _SECOND_US
    runs: list[tuple[int, int, int]] = []
    run_start = at = lo
    current = _offset_us(zone, lo)
    while True:
        probe = min(at + _PROBE_SECONDS, hi - 1)
        if probe <= at:
            break
        if _offset_us(zone, probe) == current:
            at = probe
            continue
        same, differs = at, probe
        while differs - same > 1:
            mid = (same + differs) // 2
            if _offset_us(zone, mid) == current:
                same = mid
            else:
                differs = mid
        runs.append((run_start * _SECOND_US, differs * _SECOND_US, current))
        run_start = at = differs
        current = _offset_us(zone, differs)
    runs.append((run_start * _SECOND_US, hi * _SECOND_US, current))
    return tuple(runs)


_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")


def _time_of_day_us(value: object, *, is_end: bool) -> int:
    """Parse ``"HH:MM"``, ``"HH:MM:SS"`` or a naive ``datetime.time`` into microseconds of day.

    ``"24:00"`` (or ``"24:00:00"``) is accepted as an end only and means the end of the day.
    """
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise ValueError(f"time of day must be naive (the clock has its own zone): {value!r}")
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return seconds * _SECOND_US + value.microsecond
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"bad time of day {value!r}: expected 'HH:MM' or 'HH:MM:SS'")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if (hours, minutes, seconds) == (24, 0, 0):
        if not is_end:
            raise ValueError(f"bad time of day {value!r}: 24:00 can end an interval, not start one")
        return _DAY_US
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"bad time of day {value!r}: out of range")
    return (hours * 3600 + minutes * 60 + seconds) * _SECOND_US


def _merge(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort intervals and merge the overlapping or touching ones."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _normalize_weekly(weekly: object) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Validate the weekly schedule; return seven tuples of merged ``(start_us, end_us)``.

    An interval whose start equals its end is empty and dropped (a day with only empty
    intervals is a closed day); one that starts after it ends is an error.
    """
    if not isinstance(weekly, Mapping):
        raise ValueError(f"weekly must map weekdays (0=Monday) to intervals, got {weekly!r}")
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for key, intervals in weekly.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= 6:
            raise ValueError(f"bad weekday {key!r}: use 0 (Monday) to 6 (Sunday)")
        if isinstance(intervals, str | bytes) or not isinstance(intervals, Iterable):
            raise ValueError(f"weekday {key}: expected (start, end) pairs, got {intervals!r}")
        for pair in intervals:
            if isinstance(pair, str | bytes) or not isinstance(pair, Iterable):
                raise ValueError(f"weekday {key}: expected a (start, end) pair, got {pair!r}")
            items = tuple(pair)
            if len(items) != 2:
                raise ValueError(f"weekday {key}: expected a (start, end) pair, got {pair!r}")
            start = _time_of_day_us(items[0], is_end=False)
            end = _time_of_day_us(items[1], is_end=True)
            if start > end:
                hint = " (an interval ending at midnight ends at '24:00')" if end == 0 else ""
                raise ValueError(f"weekday {key}: interval {pair!r} starts after it ends{hint}")
            if start < end:
                days[key].append((start, end))
    return tuple(_merge(day) for day in days)


def _normalize_holidays(holidays: Iterable[dt.date]) -> tuple[int, ...]:
    """Validate holidays; return their sorted, distinct proleptic ordinals."""
    if isinstance(holidays, str | bytes) or not isinstance(holidays, Iterable):
        raise ValueError(f"holidays must be an iterable of dates, got {holidays!r}")
    ordinals = set()
    for day in holidays:
        # A datetime is a date subclass but never compares equal to one, so it would
        # silently match nothing; refuse it instead.
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise ValueError(f"holidays must be datetime.date values, got {day!r}")
        ordinals.add(day.toordinal())
    return tuple(sorted(ordinals))


def _resolve_zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(tz, dt.tzinfo):
        return tz
    if not isinstance(tz, str):
        raise ValueError(f"tz must be an IANA zone name or a tzinfo, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _to_us(t: dt.datetime, name: str) -> int:
    """Microseconds since the epoch for an aware datetime; ValueError for a naive one."""
    if not isinstance(t, dt.datetime):
        raise ValueError(f"{name} must be a datetime, got {t!r}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime ({t.isoformat()}); pass a timezone-aware one")
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _SECOND_US + delta.microseconds


def _from_us(x: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=x)


def _cum_at(table: _YearTable, x: int) -> int:
    """Open time inside ``table``'s year before instant ``x``."""
    i = bisect.bisect_right(table.starts, x) - 1
    if i < 0:
        return 0
    return table.cum[i] + min(x, table.ends[i]) - table.starts[i]


class BusinessClock:
    """Open hours of a desk: a weekly schedule in a time zone, minus holidays.

    Every bad argument to the constructor raises ValueError naming the bad value.
    Methods take timezone-aware datetimes and return aware datetimes in UTC.
    """

    def __init__(
        self,
        tz: str | dt.tzinfo,
        weekly: Weekly,
        holidays: Iterable[dt.date] = (),
    ) -> None:
        self._zone = _resolve_zone(tz)
        self._weekly = _normalize_weekly(weekly)
        self._holidays = _normalize_holidays(holidays)
        self._holiday_set = frozenset(self._holidays)
        self._opens_weekly = any(self._weekly)
        self._open_all_week = all(day == _ALL_DAY for day in self._weekly)
        # From this UTC year on no holiday can touch a chunk (local dates are at most a day
        # off UTC ones), so every chunk looks alike: an empty one means no open time ever.
        last = dt.date.fromordinal(self._holidays[-1]).year if self._holidays else _MIN_YEAR
        self._quiet_from_year = last + 2
        self._tables: dict[int, _YearTable] = {}
        self._lock = threading.Lock()

    @classmethod
    def always(cls, tz: str | dt.tzinfo = "UTC") -> BusinessClock:
        """A clock open around the clock, every day, with no holidays."""
        return cls(tz, {day: [("00:00", "24:00")] for day in range(7)})

    @property
    def zone(self) -> dt.tzinfo:
        return self._zone

    @property
    def holidays(self) -> frozenset[dt.date]:
        return frozenset(dt.date.fromordinal(o) for o in self._holidays)

    def __repr__(self) -> str:
        return f"<BusinessClock {self._zone} {len(self._holidays)} holidays>"

    # Queries ---------------------------------------------------------------------------

    def is_open(self, t: dt.datetime) -> bool:
        """Whether the desk is open at instant ``t``."""
        x = _to_us(t, "t")
        table = self._table_at(x)
        i = bisect.bisect_right(table.starts, x) - 1
        return i >= 0 and x < table.ends[i]

    def next_open(self, t: dt.datetime) -> dt.datetime:
        """The first open instant at or after ``t`` (``t`` itself when open)."""
        return _from_us(self._next_open_us(_to_us(t, "t")))

    def next_close(self, t: dt.datetime) -> dt.datetime:
        """The first instant after ``t`` at which the desk closes.

        When open at ``t`` that is the end of the current open stretch, otherwise the end
        of the next one. Raises CalendarNeverCloses when it stays open forever after ``t``.
        """
        return _from_us(self._next_close_us(_to_us(t, "t")))

    def between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Open time inside ``[a, b)``; ValueError if ``b`` is before ``a``."""
        xa, xb = _to_us(a, "a"), _to_us(b, "b")
        if xb < xa:
            raise ValueError(f"between: end {b.isoformat()} is before start {a.isoformat()}")
        table = self._table_at(xa)
        if xb < table.end_us:
            return dt.timedelta(microseconds=_cum_at(table, xb) - _cum_at(table, xa))
        total = table.cum[-1] - _cum_at(table, xa)
        table = self._table(table.year + 1)
        while xb >= table.end_us:
            total += table.cum[-1]
            table = self._table(table.year + 1)
        return dt.timedelta(microseconds=total + _cum_at(table, xb))

    def add(self, t: dt.datetime, d: dt.timedelta) -> dt.datetime:
        """The earliest ``u >= t`` with ``between(t, u) >= d``: ``t`` plus ``d`` of open time.

        1. Take the open time before ``t`` in ``t``'s year table and add ``d``: the target.
        2. While the target exceeds the table's total, subtract the total and move to the
           next year's table (an empty year past every holiday means it never opens).
        3. Bisect the prefix sums for the first interval whose running total reaches the
           target; the answer lies that far into it. A target equal to an interval's
           running total lands on the interval's end, which is the earliest such instant.
        """
        x = _to_us(t, "t")
        if not isinstance(d, dt.timedelta):
            raise ValueError(f"d must be a timedelta, got {d!r}")
        if d < dt.timedelta(0):
            raise ValueError(f"add: duration must not be negative, got {d}")
        need = d // _ONE_US
        if need == 0:
            return _from_us(x)
        self._require_open_time()
        table = self._table_at(x)
        if need > (_MAX_YEAR + 1 - table.year) * 366 * _DAY_US:
            raise ValueError(f"add: {d} of open time reaches past the year {_MAX_YEAR}")
        target = _cum_at(table, x) + need
        while target > table.cum[-1]:
            target -= table.cum[-1]
            self._check_not_barren(table)
            table = self._table(table.year + 1)
        i = bisect.bisect_left(table.cum, target, 1) - 1
        return _from_us(table.starts[i] + target - table.cum[i])

    # Internals -------------------------------------------------------------------------

    def _require_open_time(self) -> None:
        if not self._opens_weekly:
            raise CalendarNeverOpens("calendar never opens: its weekly schedule has no open time")

    def _check_not_barren(self, table: _YearTable) -> None:
        """Raise CalendarNeverOpens if ``table`` is empty and so is every later year."""
        if not table.cum[-1] and table.year >= self._quiet_from_year:
            raise CalendarNeverOpens(
                f"calendar never opens after {table.year}: "
                f"its open hours never occur in {self._zone}"
            )

    def _next_open_us(self, x: int) -> int:
        self._require_open_time()
        table = self._table_at(x)
        i = bisect.bisect_right(table.starts, x)
        if i and x < table.ends[i - 1]:
            return x
        while i == len(table.starts):
            self._check_not_barren(table)
            table = self._table(table.year + 1)
            i = 0
        return table.starts[i]

    def _next_close_us(self, x: int) -> int:
        """End of the open stretch at or after ``x``, joining stretches across year tables."""
        u = self._next_open_us(x)
        if self._open_all_week:
            u = self._hop_to_holiday(u)
        table = self._table_at(u)
        end = table.ends[bisect.bisect_right(table.starts, u) - 1]
        while end == table.end_us:
            table = self._table(table.year + 1)
            if not table.starts or table.starts[0] != end:
                break
            end = table.ends[0]
        return end

    def _hop_to_holiday(self, u: int) -> int:
        """For a 24x7 schedule, an open instant shortly before the next holiday, not before ``u``.

        Every instant from ``u`` up to the next holiday is open, so the close seen from the
        returned instant is the close seen from ``u``; jumping there saves building a table
        for every year in between.
        """
        local_day = (u + _offset_us(self._zone, u // _SECOND_US)) // _DAY_US + _EPOCH_ORDINAL
        k = bisect.bisect_right(self._holidays, local_day)
        if k == len(self._holidays):
            raise CalendarNeverCloses(
                f"calendar never closes after {_from_us(u).isoformat()}: "
                "it is open around the clock and no holiday follows"
            )
        # Wall midnight two days before the holiday read as UTC: offsets stay within -12 h
        # and +14 h, so its local date is two or three days before the holiday.
        hop = (self._holidays[k] - 2 - _EPOCH_ORDINAL) * _DAY_US
        return max(u, hop)

    def _table_at(self, x: int) -> _YearTable:
        year = bisect.bisect_right(_YEAR_STARTS_US, x)
        return self._tables.get(year) or self._table(year)

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is not None:
            return table
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            raise ValueError(f"instant outside the supported years {_MIN_YEAR}..{_MAX_YEAR}")
        with self._lock:
            table = self._tables.get(year)
            if table is None:
                table = self._build(year)
                self._tables[year] = table
        return table

    def _build(self, year: int) -> _YearTable:
        """Build one UTC year's table of open intervals.

        1. Split the year into runs of constant UTC offset (``_offset_runs``).
        2. List the open wall-clock intervals, as naive microseconds, of every local day the
           year can show (its UTC span shifted by the smallest and largest offsets), skipping
           holidays.
        3. In a run ``[T0, T1)`` with offset ``o`` an instant ``u`` reads wall time ``u + o``,
           so a wall interval ``[S, E)`` is open over ``[max(T0, S - o), min(T1, E - o))``.
           Runs are in UTC order, so the results come out sorted; merge touching ones (an
           open stretch across midnight or across an offset change). A wall reading repeated
           by the autumn change lies in two runs and counts in both; one skipped in spring
           lies in none.
        4. Prefix-sum the interval lengths.
        """
        runs = _offset_runs(self._zone, year)
        offsets = [offset for _, _, offset in runs]
        first_day = (runs[0][0] + min(offsets)) // _DAY_US
        last_day = (runs[-1][1] - 1 + max(offsets)) // _DAY_US
        wall_starts: list[int] = []
        wall_ends: list[int] = []
        for day in range(first_day, last_day + 1):
            ordinal = day + _EPOCH_ORDINAL
            if ordinal in self._holiday_set:
                continue
            base = day * _DAY_US
            for start, end in self._weekly[(ordinal - 1) % 7]:
                wall_starts.append(base + start)
                wall_ends.append(base + end)
        starts: list[int] = []
        ends: list[int] = []
        for run_start, run_end, offset in runs:
            k = bisect.bisect_right(wall_ends, run_start + offset)
            while k < len(wall_starts) and wall_starts[k] < run_end + offset:
                start = max(run_start, wall_starts[k] - offset)
                end = min(run_end, wall_ends[k] - offset)
                if start < end:
                    if ends and ends[-1] == start:
                        ends[-1] = end
                    else:
                        starts.append(start)
                        ends.append(end)
                k += 1
        cum = [0]
        for start, end in zip(starts, ends, strict=True):
            cum.append(cum[-1] + end - start)
        return _YearTable(
            year=year,
            start_us=runs[0][0],
            end_us=runs[-1][1],
            starts=tuple(starts),
            ends=tuple(ends),
            cum=tuple(cum),
        )


def always_open_clock(tz: str | dt.tzinfo = "UTC") -> BusinessClock:
    """A 24x7 clock with no holidays (``BusinessClock.always``)."""
    return BusinessClock.always(tz)


_UNIT_US = {"d": _DAY_US, "h": 3600 * _SECOND_US, "m": 60 * _SECOND_US, "s": _SECOND_US}
_SHORT_RE = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_ISO_RE = re.compile(r"p(?:([0-9]+)d)?(?:t(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?)?")


def parse_duration(text: str) -> dt.timedelta:
    """Parse a duration of open time: ``"90m"``, ``"4h"``, ``"2h30m"``, ``"1d"``, ``"PT2H"``.

    Units go largest first and each at most once. A day is 24 hours of *open* time, not a
    calendar day: ``add(t, parse_duration("1d"))`` on a 12-hour desk spans two working days.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be text such as '2h30m', got {text!r}")
    compact = re.sub(r"\s+", "", text).lower()
    is_iso = compact.startswith("p")
    match = (_ISO_RE if is_iso else _SHORT_RE).fullmatch(compact)
    if match is None or not any(match.groups()) or (is_iso and compact.endswith("t")):
        raise ValueError(
            f"bad duration {text!r}: use a number and unit, largest first, "
            "e.g. '90m', '4h', '2h30m', '1d', '45s' or ISO-8601 'PT2H'"
        )
    pairs = zip(match.groups(), _UNIT_US.values(), strict=True)
    total = sum(int(value) * unit for value, unit in pairs if value)
    try:
        return dt.timedelta(microseconds=total)
    except OverflowError:
        raise ValueError(f"bad duration {text!r}: too long") from None
