"""Daily uptime bars from recorded status changes (pure Python, no Django).

A day is a calendar day in the page's zone, so a day on which clocks change is
23 or 25 hours long. The share of a day counted as up is the time the component
spent ``operational`` or ``under_maintenance`` (planned work announced ahead is
not an outage, as on every hosted status page) over the part of the day that
is in the record (after ``start``, before ``now``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")

UP = frozenset({"operational", "under_maintenance"})
SEVERITY = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)


@dataclass(frozen=True)
class DayBar:
    day: date
    share: float | None  # None: no record for that day
    worst: str  # the worst status seen that day ("operational" when none)

    @property
    def percent(self) -> str:
        return "no data" if self.share is None else f"{self.share * 100:.2f}%"


def day_bars(
    changes: Sequence[tuple[datetime, str]],
    *,
    initial: str,
    start: datetime,
    now: datetime,
    zone: ZoneInfo,
    days: int = 90,
) -> list[DayBar]:
    """One bar per day for the ``days`` days ending today (in ``zone``).

    ``changes`` are ``(instant, new status)`` in time order; ``initial`` is the
    status before the first of them. Time before ``start`` (the component's
    uptime start) or after ``now`` is not counted.
    """
    # Arithmetic in UTC: subtracting two datetimes that share a tzinfo ignores their
    # offsets, which would make every day 24 hours long.
    changes = [(at.astimezone(UTC), status) for at, status in changes]
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    today = now.astimezone(zone).date()
    bars = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        begin = datetime.combine(day, time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        bars.append(_bar(changes, initial, day, max(begin, start), min(end, now)))
    return bars


def _bar(
    changes: Sequence[tuple[datetime, str]], initial: str, day: date, begin: datetime, end: datetime
) -> DayBar:
    if end <= begin:
        return DayBar(day, None, "operational")
    status = initial
    for at, new in changes:
        if at > begin:
            break
        status = new
    up = timedelta(0)
    worst = status
    cursor = begin
    for at, new in changes:
        if at <= begin:
            continue
        if at >= end:
            break
        if status in UP:
            up += at - cursor
        cursor, status = at, new
        worst = max(worst, new, key=SEVERITY.index)
    if status in UP:
        up += end - cursor
    return DayBar(day, up / (end - begin), worst)


def share_up(bars: Sequence[DayBar]) -> float | None:
    """The share of the recorded days' time up (days weighted alike, as the bars show)."""
    known = [bar.share for bar in bars if bar.share is not None]
    return sum(known) / len(known) if known else None
