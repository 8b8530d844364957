"""SLA arithmetic: due times from the business clock, pauses, and the warning instant.

Everything here reads the case's rows and the clock and returns instants; it
never writes. ``services`` stores the results and schedules the deadline tasks.

A target is an amount of open time on the priority's clock (the support
calendar, or 24x7 for Critical). The resolution clock stands still while the
case waits on the customer (each stretch is a ``Pause``), so its due instant is
the first one at which the open time since the start, less the open time spent
paused, reaches the target.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from casedesk.cases.models import Case, Clock, Status
from casedesk.hours.clock import BusinessClock
from casedesk.hours.services import calendar_named, current_calendar

logger = logging.getLogger("casedesk.cases")

# The warning goes out when this share of the target has run (issue 4: 75%).
WARNING_SHARE = 0.75
ALWAYS_CALENDAR = "24x7"


def clock_for(clock: str) -> BusinessClock:
    """The clock SLA targets run on: ``Clock.BUSINESS`` (the support calendar) or 24x7.

    A support calendar with no open hours at all (an admin deleted them) would
    make every due time uncomputable and every new case fail; the 24x7 clock
    stands in, loudly, so no case is lost.
    """
    if clock == Clock.ALWAYS:
        return calendar_named(ALWAYS_CALENDAR).clock
    calendar = current_calendar()
    if not any(calendar.weekly.values()):
        logger.error("calendar %s has no open hours; SLA due times run 24x7", calendar.name)
        return calendar_named(ALWAYS_CALENDAR).clock
    return calendar.clock


def due_after(
    clock: BusinessClock,
    start: datetime,
    target: timedelta,
    pauses: Iterable[tuple[datetime, datetime | None]] = (),
) -> datetime | None:
    """The instant ``target`` of open time after ``start``, not counting paused stretches.

    1. Without pauses it is ``clock.add(start, target)``.
    2. Walk the pauses in order. One that starts at or after the current due
       instant cannot delay it (and neither can any later one): stop.
    3. A pause still running before the due instant means the clock stands
       still now: there is no due instant (None).
    4. A finished pause ``[s, e)`` pushes the due instant on by the open time
       inside it. That is exact even when the pause ends after the old due
       instant: the open time left at ``s`` is then spent after ``e``.
    """
    due = clock.add(start, target)
    for began, ended in sorted(pauses, key=lambda p: p[0]):
        began = max(began, start)
        if began >= due:
            break
        if ended is None:
            return None
        if ended <= began:
            continue
        due = clock.add(due, clock.between(began, ended))
    return due


@dataclass(frozen=True)
class Deadlines:
    first_response_due: datetime
    first_response_warning: datetime
    resolution_due: datetime | None
    resolution_warning: datetime | None


Span = tuple[datetime, datetime | None]


def deadlines(
    case: Case,
    pauses: Iterable[tuple[str, datetime, datetime | None]],
    clock: BusinessClock | None = None,
) -> Deadlines:
    """Both deadlines of ``case`` and their warning instants, from the case's start, on the
    targets and clock the case took with its priority.

    ``pauses`` are ``(kind, start, end)``. The resolution clock stands still in every
    pause. The first-response clock stands still only in finished stretches of being
    resolved: a case reopened a week after it was resolved without a reply has not used
    that week up (while it is resolved nothing is due; waiting on the customer before any
    reply does not stop the wait for one).

    ``clock`` is ``clock_for(case.sla_clock)``, passed in by callers that hold it already
    (bulk seeding), so as not to look the calendar up for every case.
    """
    clock = clock or clock_for(case.sla_clock)
    start = case.opened_at
    first = case.response_target
    resolution_due = resolution_warning = None
    spans: list[Span] = [(began, ended) for _, began, ended in pauses]
    resolved: list[Span] = [
        (began, ended)
        for kind, began, ended in pauses
        if kind == Status.RESOLVED and ended is not None
    ]
    if case.resolution_target is not None:
        resolution_due = due_after(clock, start, case.resolution_target, spans)
        if resolution_due is not None:
            resolution_warning = due_after(
                clock, start, case.resolution_target * WARNING_SHARE, spans
            )
    first_due = due_after(clock, start, first, resolved)
    first_warning = due_after(clock, start, first * WARNING_SHARE, resolved)
    assert first_due is not None and first_warning is not None  # finished pauses only
    return Deadlines(
        first_response_due=first_due,
        first_response_warning=first_warning,
        resolution_due=resolution_due,
        resolution_warning=resolution_warning,
    )


def pauses_of(case: Case) -> list[tuple[str, datetime, datetime | None]]:
    return [(p.kind, p.started_at, p.ended_at) for p in case.pauses.all()]


def is_support_open(at: datetime) -> bool:
    return current_calendar().clock.is_open(at)
