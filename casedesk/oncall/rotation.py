"""Who is on call when: rotation arithmetic in plain Python (no Django import).

A rotation hands off at a local wall-clock time in its own zone ("Monday 09:00
America/Chicago"), every N days. Shift ``k`` starts at local date
``start + k * every_days`` at ``handoff`` and belongs to ``participants[k % n]``.
Shifts are computed from the wall clock, never by adding fixed hours to an
instant, so a daily shift across the spring change lasts 23 hours and across
the autumn change 25, and every hand-off happens at the same local time.

Wall-clock times that do not exist or occur twice are settled as zoneinfo's
``fold=0`` does: a hand-off at 02:30 on the spring-forward night happens at the
instant the clock would have shown 02:30 had it not jumped (03:30 daylight
time); one at 01:30 on the fall-back night happens at the first 01:30.

Overrides ("I take Saturday for Ann") are cut into a layer's shifts: inside an
override its person is on call; where overrides overlap, the one listed last
(the newest) wins. A layer with nobody (no participants, before its start, or
after its end) has a gap there; :func:`gaps` reports them for the desk and the
admins' mail, and the schedule's fallback person covers them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

P = TypeVar("P", bound=Hashable)


@dataclass(frozen=True)
class Rotation(Generic[P]):
    """One layer's rotation: ``participants`` in order, handing off every ``every_days``."""

    zone: ZoneInfo
    start: date  # the local date of the first hand-off
    handoff: time  # local wall-clock time of every hand-off (no tzinfo)
    every_days: int
    participants: tuple[P, ...]
    end: datetime | None = None  # the layer stops (aware); None: runs for ever

    def __post_init__(self) -> None:
        if self.every_days < 1:
            raise ValueError("a rotation hands off every 1 day or more")
        if self.handoff.tzinfo is not None:
            raise ValueError("the hand-off is a local wall-clock time (no tzinfo)")
        if self.end is not None and self.end.tzinfo is None:
            raise ValueError("the end of a rotation must be time-zone aware")

    def shift_start(self, k: int) -> datetime:
        """The UTC instant shift ``k`` begins (``k`` may be negative: before the start)."""
        local = datetime.combine(self.start + timedelta(days=k * self.every_days), self.handoff)
        return local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def shift_index(self, instant: datetime) -> int:
        """The ``k`` with ``shift_start(k) <= instant < shift_start(k + 1)``."""
        first = self.shift_start(0)
        period = timedelta(days=self.every_days)
        # Off by at most one from the true index: offsets change by hours, periods are days.
        k = (instant - first) // period
        while self.shift_start(k) > instant:
            k -= 1
        while self.shift_start(k + 1) <= instant:
            k += 1
        return k

    def on_call(self, instant: datetime) -> P | None:
        """Who the rotation puts on call at ``instant`` (None before its start or after its end)."""
        _require_aware(instant)
        if not self.participants or instant < self.shift_start(0):
            return None
        if self.end is not None and instant >= self.end:
            return None
        return self.participants[self.shift_index(instant) % len(self.participants)]

    def shifts(self, start: datetime, end: datetime) -> list[Shift[P]]:
        """The rotation's shifts overlapping ``[start, end)``, clipped to it, in order."""
        _require_aware(start, end)
        if self.end is not None:
            end = min(end, self.end)
        begin = max(start, self.shift_start(0))
        if not self.participants or begin >= end:
            return []
        out: list[Shift[P]] = []
        k = self.shift_index(begin)
        while True:
            lo, hi = self.shift_start(k), self.shift_start(k + 1)
            if lo >= end:
                break
            out.append(
                Shift(self.participants[k % len(self.participants)], max(lo, begin), min(hi, end))
            )
            k += 1
        return out


@dataclass(frozen=True)
class Shift(Generic[P]):
    """``person`` is on call in ``[start, end)`` (UTC); None is a gap."""

    person: P | None
    start: datetime
    end: datetime
    override: bool = False

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Override(Generic[P]):
    """``person`` takes ``[start, end)`` on one layer."""

    person: P
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, self.end)
        if self.end <= self.start:
            raise ValueError("an override ends after it starts")


def timeline(
    rotation: Rotation[P] | None,
    overrides: Sequence[Override[P]],
    start: datetime,
    end: datetime,
) -> list[Shift[P]]:
    """Who is on call from ``start`` to ``end``: contiguous shifts covering it exactly.

    1. Cut the span at every rotation hand-off and every override's edges.
    2. For each piece, the newest override covering it wins; else the rotation's person;
       else nobody (a gap).
    3. Merge neighbouring pieces with the same person and the same source.
    """
    _require_aware(start, end)
    if end <= start:
        return []
    base = rotation.shifts(start, end) if rotation is not None else []
    cuts = {start, end}
    for shift in base:
        cuts.update((shift.start, shift.end))
    relevant = [o for o in overrides if o.start < end and o.end > start]
    for o in relevant:
        cuts.update(t for t in (o.start, o.end) if start < t < end)
    points = sorted(cuts)
    base_starts = [s.start for s in base]
    pieces: list[Shift[P]] = []
    for lo, hi in itertools.pairwise(points):
        person: P | None = None
        by_override = False
        for o in reversed(relevant):
            if o.start <= lo and o.end >= hi:
                person, by_override = o.person, True
                break
        if not by_override:
            i = bisect.bisect_right(base_starts, lo) - 1
            if i >= 0 and base[i].end >= hi:
                person = base[i].person
        if pieces and pieces[-1].person == person and pieces[-1].override == by_override:
            pieces[-1] = Shift(person, pieces[-1].start, hi, by_override)
        else:
            pieces.append(Shift(person, lo, hi, by_override))
    return pieces


def on_call(
    rotation: Rotation[P] | None, overrides: Sequence[Override[P]], instant: datetime
) -> P | None:
    """Who is on call at ``instant``: the newest override covering it, else the rotation."""
    _require_aware(instant)
    for o in reversed(overrides):
        if o.start <= instant < o.end:
            return o.person
    return rotation.on_call(instant) if rotation is not None else None


def gaps(shifts: Sequence[Shift[P]], minimum: timedelta = timedelta(0)) -> list[Shift[P]]:
    """The stretches with nobody on call, longer than ``minimum``."""
    return [s for s in shifts if s.person is None and s.duration > minimum]


def next_change(
    rotation: Rotation[P] | None, overrides: Sequence[Override[P]], instant: datetime
) -> Shift[P] | None:
    """The next shift after the one running at ``instant`` (looks ahead up to a year)."""
    horizon = instant + timedelta(days=366)
    pieces = timeline(rotation, overrides, instant, horizon)
    return pieces[1] if len(pieces) > 1 else None


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("instants must be time-zone aware")
