"""Benchmark ``BusinessClock.add`` against the ``businesstimedelta`` package, and compare answers.

Run from the repository root::

    python bench/clock.py [--n 100000] [--seed 1] [--budget 180]

Both libraries get the default support policy: Monday to Friday 07:00-19:00
America/Chicago, closed on the default US holidays of 2024-2028 (the rules seeded by the migration,
expanded by ``casedesk.hours.observance``). Random (start, duration) pairs, seeded: starts
uniform to the second over 2024-2027 local time, durations whole minutes from one minute to
80 hours (as SLA targets are; whole durations from a closed start land exactly on a close,
which exercises the boundary). Each library is timed in the same run on the same pairs; if
businesstimedelta would need more than ``--budget`` seconds for all of them it runs on a
prefix of the pairs, and the output says so.

Every difference is classified and checked against an independent day-by-day oracle, so
the output says whose answer is wrong. A second section runs hand-made edge cases outside
the default policy where the two libraries are known to part ways.

Targets (issue 2), each on a closing line with pass or MISS: casedesk makes at least 50
times businesstimedelta's calls per second, measured in the same run on the same pairs;
and the oracle contradicts none of casedesk's answers (neither a difference nor any of
the first 2,000 pairs, which the oracle checks whether the libraries agree or not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import pytz
from _verdict import at_least, verdict
from businesstimedelta import BusinessTimeDelta, HolidayRule, Rules, WorkDayRule
from tqdm import tqdm

# Run as a script from anywhere: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from casedesk.hours import observance
from casedesk.hours.clock import BusinessClock
from casedesk.hours.defaults import DEFAULT_RULES

ZONE = "America/Chicago"
CHICAGO = ZoneInfo(ZONE)
UTC = dt.UTC
OPEN, CLOSE = dt.time(7), dt.time(19)
WORKDAYS = range(5)
TARGET_RATIO = 50.0  # casedesk's calls per second over businesstimedelta's (issue 2)
Pair = tuple[dt.datetime, dt.timedelta]


def default_holidays(first_year: int = 2024, last_year: int = 2028) -> frozenset[dt.date]:
    """The default policy's holidays: the seeded rules, expanded as the desk expands them."""
    rules = [
        observance.Rule(name, source, offset, moves)
        for name, source, offset, moves in DEFAULT_RULES
    ]
    days = observance.expand(rules, country="US", first_year=first_year, last_year=last_year)
    return frozenset(days)


def make_pairs(n: int, seed: int) -> list[Pair]:
    rng = random.Random(seed)
    lo = int(dt.datetime(2024, 1, 1, tzinfo=CHICAGO).timestamp())
    hi = int(dt.datetime(2028, 1, 1, tzinfo=CHICAGO).timestamp())
    return [
        (
            dt.datetime.fromtimestamp(rng.randrange(lo, hi), UTC),
            dt.timedelta(minutes=rng.randint(1, 80 * 60)),
        )
        for _ in range(n)
    ]


def btd_rules(
    hours: Sequence[dt.time], days: Iterable[int], holiday_dates: Iterable[dt.date]
) -> Any:
    """businesstimedelta's equivalent of a one-interval-a-day BusinessClock.

    Holidays go in as a set: its HolidayRule tests ``date in holidays`` once per day it
    scans, so a list would make it slower for no reason. With no holidays the rule is left
    out, because a HolidayRule that finds no holiday within five years crashes.
    """
    tz = pytz.timezone(ZONE)
    work = WorkDayRule(start_time=hours[0], end_time=hours[1], working_days=list(days), tz=tz)
    hols = frozenset(holiday_dates)
    return Rules([work, HolidayRule(hols, tz=tz)] if hols else [work])


def btd_add(rules: Any, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    result: dt.datetime = (start + BusinessTimeDelta(rules, timedelta=duration)).astimezone(UTC)
    return result


def timed(
    label: str, fn: Callable[[Pair], dt.datetime], pairs: Sequence[Pair]
) -> tuple[list[dt.datetime], float]:
    """Run ``fn`` over ``pairs`` under a progress bar; time only the calls, in batches."""
    results: list[dt.datetime] = []
    elapsed = 0.0
    batch = 500
    with tqdm(total=len(pairs), desc=label, unit="call", leave=False, file=sys.stderr) as bar:
        for i in range(0, len(pairs), batch):
            chunk = pairs[i : i + batch]
            started = time.perf_counter()
            results.extend(fn(pair) for pair in chunk)
            elapsed += time.perf_counter() - started
            bar.update(len(chunk))
    return results, elapsed


def oracle_add(start: dt.datetime, duration: dt.timedelta, hols: frozenset[dt.date]) -> dt.datetime:
    """Independent answer: walk local days, placing each day's 07:00-19:00 with zoneinfo."""
    left = duration
    day = start.astimezone(CHICAGO).date()
    while True:
        if day.weekday() in WORKDAYS and day not in hols:
            opens = dt.datetime.combine(day, OPEN, CHICAGO).astimezone(UTC)
            closes = dt.datetime.combine(day, CLOSE, CHICAGO).astimezone(UTC)
            begin = max(opens, start)
            if begin < closes:
                if closes - begin >= left:
                    return begin + left
                left -= closes - begin
        day += dt.timedelta(days=1)


@dataclass
class Difference:
    start: dt.datetime
    duration: dt.timedelta
    ours: dt.datetime
    theirs: dt.datetime
    truth: dt.datetime


def classify(diff: Difference, clock: BusinessClock, hols: frozenset[dt.date]) -> str:
    """Name the situation a difference arises in, and whose answer the oracle backs."""
    wrong = "businesstimedelta" if diff.truth == diff.ours else "casedesk"
    if diff.truth not in (diff.ours, diff.theirs):
        wrong = "both"
    first, last = diff.start, max(diff.ours, diff.theirs)
    offsets = {
        (first + dt.timedelta(hours=h)).astimezone(CHICAGO).utcoffset()
        for h in range(int((last - first).total_seconds() // 3600) + 2)
    }
    local_days = {first.astimezone(CHICAGO).date(), last.astimezone(CHICAGO).date()}
    if not clock.is_open(diff.ours) and clock.next_open(diff.ours) == diff.theirs:
        kind = "ends exactly at a close"
    elif len(offsets) > 1:
        kind = "daylight-saving change in the span"
    elif any(first.date() <= h <= last.date() for h in hols) or local_days & hols:
        kind = "holiday in the span"
    else:
        kind = "other"
    return f"{kind}; wrong: {wrong}"


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Timeout


def edge_cases() -> list[str]:
    """Hand-made cases outside the default policy where the two libraries disagree."""
    lines: list[str] = []

    def probe(
        name: str,
        why: str,
        weekly: dict[int, list[tuple[str, str]]],
        hols: set[dt.date],
        hours: tuple[dt.time, dt.time],
        start: dt.datetime,
        duration: dt.timedelta,
    ) -> None:
        clock = BusinessClock(ZONE, weekly, hols)
        try:
            ours: object = clock.add(start, duration)
        except ValueError as exc:
            ours = f"{type(exc).__name__}"
        rules = btd_rules(hours, weekly, hols)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(3)
        try:
            theirs: object = btd_add(rules, start, duration)
        except Timeout:
            theirs = "no answer (loops forever; stopped after 3 s)"
        except Exception as exc:
            theirs = f"crash: {type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
        verdict = "agree" if ours == theirs else "differ"
        lines.append(
            f"  {name} [{verdict}]\n    start {start:%Y-%m-%d %H:%M} UTC + {duration}: "
            f"casedesk {fmt(ours)} | businesstimedelta {fmt(theirs)}\n    {why}"
        )

    weekdays = {day: [("07:00", "19:00")] for day in WORKDAYS}
    probe(
        "due exactly at a close: Friday 17:00 CDT + 2 h",
        "both give the close itself (19:00), the earliest instant with 2 h of open time",
        weekdays,
        set(),
        (OPEN, CLOSE),
        dt.datetime(2026, 6, 5, 22, tzinfo=UTC),
        dt.timedelta(hours=2),
    )
    probe(
        "repeated hour (autumn change): Sunday 01:00-02:00 happens twice on 2026-11-01",
        "businesstimedelta localizes 01:00 and 02:00 with pytz's default is_dst=False, so it "
        "counts only the second (CST) 01:00-02:00: 1 h open that night instead of 2 h",
        {6: [("01:00", "02:00")]},
        set(),
        (dt.time(1), dt.time(2)),
        dt.datetime(2026, 11, 1, 5, tzinfo=UTC),
        dt.timedelta(minutes=90),
    )
    probe(
        "skipped hour (spring change): Sunday 02:00-03:00 does not exist on 2026-03-08",
        "businesstimedelta makes 02:00 CST..03:00 CDT, a zero-length period, and Rules.next "
        "retries it forever; casedesk skips the day and opens on the 15th",
        {6: [("02:00", "03:00")]},
        set(),
        (dt.time(2), dt.time(3)),
        dt.datetime(2026, 3, 8, 6, tzinfo=UTC),
        dt.timedelta(minutes=30),
    )
    probe(
        "zero duration on a closed Saturday",
        "businesstimedelta moves a zero duration to the next opening; casedesk's contract is "
        "add(t, 0) == t (the earliest u >= t with 0 open time)",
        weekdays,
        set(),
        (OPEN, CLOSE),
        dt.datetime(2026, 6, 6, 12, tzinfo=UTC),
        dt.timedelta(0),
    )
    probe(
        "start more than five years after the last holiday",
        "businesstimedelta's HolidayRule scans day by day for the next holiday, gives up "
        "after 5 x 365 days and returns None, which it then passes to datetime.combine",
        weekdays,
        {dt.date(2024, 12, 25)},
        (OPEN, CLOSE),
        dt.datetime(2030, 6, 3, 15, tzinfo=UTC),
        dt.timedelta(hours=1),
    )
    return lines


def coverage(
    pairs: Sequence[Pair],
    results: Sequence[dt.datetime],
    clock: BusinessClock,
    hols: frozenset[dt.date],
) -> str:
    """How many pairs end exactly at a close, cross a daylight-saving change, or a holiday."""
    counts: Counter[str] = Counter()
    for (start, _), end in zip(pairs, results, strict=False):
        local_start, local_end = start.astimezone(CHICAGO), end.astimezone(CHICAGO)
        counts["due exactly at a close"] += not clock.is_open(end)
        counts["across a DST change"] += local_start.utcoffset() != local_end.utcoffset()
        counts["across a holiday"] += any(
            local_start.date() <= day <= local_end.date() for day in hols
        )
    return ", ".join(f"{count:,} {name}" for name, count in counts.items())


def fmt(value: object) -> str:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return str(value)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="random (start, duration) pairs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget",
        type=float,
        default=180.0,
        help="seconds businesstimedelta may take before it runs on a subsample",
    )
    args = parser.parse_args(argv)

    hols = default_holidays()
    pairs = make_pairs(args.n, args.seed)
    print(f"casedesk BusinessClock.add vs businesstimedelta {version('businesstimedelta')}")
    print(f"policy: Mon-Fri 07:00-19:00 {ZONE}, {len(hols)} holidays {min(hols)}..{max(hols)}")
    print(
        f"pairs: {len(pairs):,} (seed {args.seed}); starts 2024-2027 local to the second, "
        "durations 1 min-80 h in whole minutes"
    )
    print()

    # casedesk, cold: a fresh clock, so building its year tables is inside the timing.
    started = time.perf_counter()
    clock = BusinessClock(ZONE, {day: [("07:00", "19:00")] for day in WORKDAYS}, hols)
    setup = time.perf_counter() - started
    ours, ours_s = timed("casedesk", lambda p: clock.add(*p), pairs)
    ours_s += setup

    rules = btd_rules((OPEN, CLOSE), WORKDAYS, hols)
    pilot = min(len(pairs), 1000)
    _, pilot_s = timed("businesstimedelta (pilot)", lambda p: btd_add(rules, *p), pairs[:pilot])
    estimate = pilot_s / pilot * len(pairs)
    affordable = max(pilot, int(args.budget / pilot_s * pilot))
    sample = pairs if estimate <= args.budget else pairs[:affordable]
    theirs, theirs_s = timed("businesstimedelta", lambda p: btd_add(rules, *p), sample)

    ours_rate = len(pairs) / ours_s
    theirs_rate = len(sample) / theirs_s
    for name, calls, seconds in (
        ("casedesk", len(pairs), ours_s),
        ("businesstimedelta", len(sample), theirs_s),
    ):
        print(
            f"{name:<17} {calls:>9,} calls {seconds:8.2f} s {calls / seconds:>11,.0f} calls/s"
            f"  ({seconds / calls * 1e6:7.1f} us/call)"
        )
    print("  (casedesk's time includes building its year tables from a fresh clock)")
    if len(sample) < len(pairs):
        print(
            f"  businesstimedelta ran on the first {len(sample):,} pairs only: "
            f"all {len(pairs):,} would take about {estimate:.0f} s (budget {args.budget:.0f} s)"
        )
    ratio = ours_rate / theirs_rate
    print(f"ratio             {ratio:,.0f}x")
    print()

    diffs = [
        Difference(start, duration, mine, other, oracle_add(start, duration, hols))
        for (start, duration), mine, other in zip(sample, ours, theirs, strict=False)
        if mine != other
    ]
    print(f"differences: {len(diffs):,} of {len(sample):,} compared")
    print(f"  boundaries the compared pairs exercise: {coverage(sample, ours, clock, hols)}")
    for diff in diffs[:5]:
        print(
            f"  start {diff.start:%Y-%m-%d %H:%M:%S} UTC + {diff.duration}: "
            f"casedesk {fmt(diff.ours)}, businesstimedelta {fmt(diff.theirs)}, "
            f"oracle {fmt(diff.truth)}"
        )
    for kind, count in Counter(classify(d, clock, hols) for d in diffs).most_common():
        print(f"  {count:>7,}  {kind}")
    wrong_ours = sum(d.truth != d.ours for d in diffs)
    checked = list(zip(pairs[:2000], ours, strict=False))
    agree = sum(mine == oracle_add(s, d, hols) for (s, d), mine in checked)
    print(
        f"oracle check: casedesk wrong on {wrong_ours} of the differences; "
        f"agrees with the oracle on {agree:,} of the first {len(checked):,} pairs"
    )
    print()
    print("edge cases outside the default policy:")
    for line in edge_cases():
        print(line)
    print()
    at_least("calls per second, casedesk / businesstimedelta", ratio, TARGET_RATIO, "x")
    contradicted = len(checked) - agree
    verdict(
        "casedesk answers the oracle contradicts",
        f"{wrong_ours} of {len(diffs):,} differences, {contradicted} of the first "
        f"{len(checked):,} pairs",
        "0",
        wrong_ours == 0 and contradicted == 0,
    )


if __name__ == "__main__":
    main()
