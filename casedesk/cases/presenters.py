"""What the customer is told when a case is opened: the page and the mail say the same."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from casedesk.cases.models import Case, Clock, EventKind
from casedesk.hours.services import current_calendar, status


@dataclass(frozen=True)
class Acknowledgement:
    case: Case
    target: str  # "2 hours, around the clock"
    respond_by: datetime  # the first-response due instant (UTC)
    support_open: bool  # at the moment the case was opened
    reopens_at: datetime | None  # when support next opens, if it was closed
    customer_zone: zoneinfo.ZoneInfo
    calendar_zone: zoneinfo.ZoneInfo  # US Central in the default policy
    critical_after_hours: bool
    worked_now: bool  # the case's clock is 24x7
    paged: bool = False  # the on-call engineer was paged for it (oncall records it)

    @property
    def zones_differ(self) -> bool:
        return self.customer_zone.key != self.calendar_zone.key


def acknowledgement(
    case: Case, customer_zone: zoneinfo.ZoneInfo, *, paged: bool | None = None
) -> Acknowledgement:
    """``paged``: whether a page went out; by default read from the case's timeline."""
    hours = status(current_calendar(), case.opened_at)
    if paged is None:
        paged = bool(case.pk) and case.events.filter(kind=EventKind.PAGED).exists()
    return Acknowledgement(
        case=case,
        target=case.first_response_text,
        respond_by=case.first_response_due,
        support_open=hours.open,
        reopens_at=None if hours.open else hours.next_open,
        customer_zone=customer_zone,
        calendar_zone=hours.calendar.zone,
        critical_after_hours=case.priority.is_critical and case.opened_after_hours,
        worked_now=case.sla_clock == Clock.ALWAYS,
        paged=paged,
    )
