"""What pages show, computed in Python: the acknowledgement and the rows of the hot lists.

The acknowledgement is what the customer is told when a case is opened (the page and the
mail say the same); the rows are the desk queue's and the portal list's.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.urls import reverse
from django.utils import dateformat, timezone

from casedesk.cases.models import Case, Clock, Event, EventKind, Status
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


# ---- The hot lists: what each row shows, computed once in Python ---------------------------
#
# The desk queue and the portal list render up to CASES_PER_PAGE rows. A row that reads
# ``case.requester.full_name`` in the template costs three lookups, each of which first tries
# ``obj["name"]`` and pays for the exception; ``{% url %}`` and ``|date`` per row cost a
# resolver walk and a formatter each. So the views hand the templates rows of finished
# strings: one lookup per cell, the URL built from a prefix reversed once per page, each
# distinct date formatted once. Issue 19 (live queue updates) extends these rows.


class Row:
    """A presenter row the template reads with one dictionary-style lookup per field.

    Django's template engine tries ``row[name]`` before ``getattr(row, name)``; answering
    it directly spares an exception per cell (~900 per 50-row page).
    """

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class DateText:
    """Datetimes as text in the viewer's zone (the active one), each distinct value once.

    The same results as the template's ``|date`` filter (``dateformat.format`` of the
    value in the current zone); ``iso`` is ``|date:'c'``.
    """

    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone or timezone.get_current_timezone()
        self._done: dict[tuple[datetime, str], str] = {}

    def local(self, value: datetime) -> datetime:
        return timezone.localtime(value, self.zone) if timezone.is_aware(value) else value

    def __call__(self, value: datetime | None, style: str) -> str:
        if value is None:
            return ""
        key = (value, style)
        text = self._done.get(key)
        if text is None:
            text = self._done[key] = dateformat.format(self.local(value), style)
        return text

    def iso(self, value: datetime | None) -> str:
        """``|date:'c'``, which is ``isoformat()`` of the local time: no formatter needed."""
        return "" if value is None else self.local(value).isoformat()


def reference_urls(viewname: str) -> Callable[[str], str]:
    """``reverse(viewname, args=[reference])`` for many references, reversing only once.

    References are ``CD-<digits>`` (``Case.reference``): nothing in them needs quoting,
    so the URL is the reversed one with the reference put in place of a marker.
    """
    marker = "CD-0"
    prefix, found, suffix = reverse(viewname, args=[marker]).rpartition(marker)
    assert found, f"{viewname} does not put the reference in its path"

    def url(reference: str) -> str:
        return f"{prefix}{reference}{suffix}"

    return url


# A deadline this close is shown as "due soon" (amber) in the queue.
DUE_SOON = timedelta(hours=1)


def urgency(case: Case, now: datetime) -> str:
    """``breached`` (past due or any breach flag), ``soon`` (due within the hour) or ``fine``."""
    if case.any_breach or (case.next_due is not None and case.next_due <= now):
        return "breached"
    if case.next_due is not None and case.next_due - now <= DUE_SOON:
        return "soon"
    return "fine"


def countdown(due: datetime | None, now: datetime) -> str:
    """ "in 1h 05m", "12m 30s overdue": the text desk.js keeps ticking (the same format)."""
    if due is None:
        return "no clock running"
    seconds = int((due - now).total_seconds())
    overdue = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m {secs:02d}s"
    return f"{text} overdue" if overdue else f"in {text}"


DUE_FORMAT = "D M j, H:i T"  # the desk's deadlines: "Wed Mar 12, 10:00 CDT"


@dataclass(frozen=True, slots=True)
class Due(Row):
    """A deadline as the desk shows it (``cases/desk/_due.html``): when, and how long till."""

    iso: str  # "" when no clock runs
    text: str
    countdown: str


def due_of(value: datetime | None, now: datetime, dates: DateText) -> Due:
    return Due(dates.iso(value), dates(value, DUE_FORMAT), countdown(value, now))


@dataclass(frozen=True, slots=True)
class QueueRow(Row):
    """One row of the desk queue: every cell as text, plus the case for callers that need it."""

    case: Case
    url: str
    reference: str
    subject: str
    after_hours_alarm: bool
    organization: str
    requester: str  # the full name, else the email
    requester_email: str  # shown under the name; "" when the name is the email
    unverified_sender: bool
    priority: str
    critical: bool
    status: str  # the label, "Open"
    assignee: str  # "" when unassigned
    due: Due
    breached: bool  # a breach flag is set (the "breached" tag)
    urgency: str  # fine, soon, breached (the row's colour)

    @property
    def countdown(self) -> str:
        return self.due.countdown


# What a queue row reads: load only these (``QuerySet.only``). A case row has ~30 columns,
# a person ~15, and SQLite's datetimes are parsed in Python: loading every column of 250
# objects cost more than rendering them. Add a field here before a row reads it, or each
# row pays a query (the query-count tests catch that).
QUEUE_ROW_FIELDS = (
    "subject",
    "status",
    "next_due",
    "opened_at",
    "after_hours_alarm",
    "unverified_sender",
    "first_response_breached",
    "resolution_breached",
    "priority__name",
    "priority__is_critical",
    "organization__name",
    "requester__full_name",
    "requester__email",
    "assignee__full_name",
    "assignee__email",
)


def queue_cases(pks: list[int]) -> list[Case]:
    """The cases ``pks`` names, in that order, with just what their queue rows show."""
    loaded = Case.objects.select_related("priority", "organization", "requester", "assignee")
    by_pk = loaded.only(*QUEUE_ROW_FIELDS).in_bulk(pks)
    return [by_pk[pk] for pk in pks if pk in by_pk]


def queue_rows(cases: list[Case], now: datetime) -> list[QueueRow]:
    """The queue's rows; ``cases`` come with priority, organization and people loaded."""
    url = reference_urls("desk:case")
    dates = DateText()
    labels = dict(Status.choices)
    rows = []
    for case in cases:
        requester = case.requester
        assignee = case.assignee
        reference = case.reference
        rows.append(
            QueueRow(
                case=case,
                url=url(reference),
                reference=reference,
                subject=case.subject,
                after_hours_alarm=case.after_hours_alarm,
                organization=case.organization.name,
                requester=requester.full_name or requester.email,
                requester_email=requester.email if requester.full_name else "",
                unverified_sender=case.unverified_sender,
                priority=case.priority.name,
                critical=case.priority.is_critical,
                status=labels.get(case.status, case.status),
                assignee="" if assignee is None else (assignee.full_name or assignee.email),
                due=due_of(case.next_due, now, dates),
                breached=case.any_breach,
                urgency=urgency(case, now),
            )
        )
    return rows


PORTAL_LIST_FORMAT = "j M Y, H:i"  # "12 Mar 2025, 10:00", in the viewer's zone


@dataclass(frozen=True, slots=True)
class PortalRow(Row):
    """One row of the customer's case list."""

    case: Case
    url: str
    reference: str
    subject: str
    status: str  # the value, for the CSS class: "open"
    status_label: str
    priority: str
    critical: bool
    requester: str
    opened_iso: str  # the stored (UTC) instant, as the list always showed it
    opened: str
    updated_iso: str
    updated: str


# What a portal row reads (see QUEUE_ROW_FIELDS for why only these).
PORTAL_ROW_FIELDS = (
    "subject",
    "status",
    "opened_at",
    "updated_at",
    "priority__name",
    "priority__is_critical",
    "requester__full_name",
    "requester__email",
)


def portal_rows(cases: Iterable[Case], zone: tzinfo) -> list[PortalRow]:
    """The portal list's rows in the viewer's ``zone``; with priority and requester loaded."""
    url = reference_urls("portal:case")
    dates = DateText(zone)
    labels = dict(Status.choices)
    rows = []
    for case in cases:
        reference = case.reference
        rows.append(
            PortalRow(
                case=case,
                url=url(reference),
                reference=reference,
                subject=case.subject,
                status=case.status,
                status_label=labels.get(case.status, case.status),
                priority=case.priority.name,
                critical=case.priority.is_critical,
                requester=case.requester.get_full_name(),
                opened_iso=case.opened_at.isoformat(),
                opened=dates(case.opened_at, PORTAL_LIST_FORMAT),
                updated_iso=case.updated_at.isoformat(),
                updated=dates(case.updated_at, PORTAL_LIST_FORMAT),
            )
        )
    return rows


# ---- The desk case page ---------------------------------------------------------------------

EVENT_FORMAT = "D M j, H:i T"  # a timeline entry's time: "Wed Mar 12, 10:00 CDT"


@dataclass(frozen=True, slots=True)
class TimelineEntry(Row):
    """One event of the desk's timeline, with its labels, author and time as text."""

    event: Event
    old_label: str
    new_label: str
    author: str  # the full name, else the email; "casedesk" for the system's own events
    at_iso: str
    at: str

    @property
    def css(self) -> str:
        if self.event.kind == EventKind.NOTE:
            return "note internal"
        if self.event.kind in (EventKind.SLA_BREACH, EventKind.AFTER_HOURS_CRITICAL):
            return f"{self.event.kind} alarm"
        if self.event.kind == EventKind.REPLY and self.event.by_customer:
            return "reply from-customer"
        return str(self.event.kind)


def desk_timeline(events: Iterable[Event], dates: DateText) -> list[TimelineEntry]:
    """The desk timeline's entries; ``events`` with their authors loaded (``timeline_for``)."""
    labels = dict(Status.choices)
    entries = []
    for event in events:
        if event.kind == EventKind.STATUS:
            old = labels.get(event.old_value, event.old_value)
            new = labels.get(event.new_value, event.new_value)
        else:
            old, new = event.old_value, event.new_value
        author = event.author
        entries.append(
            TimelineEntry(
                event=event,
                old_label=old,
                new_label=new,
                author="casedesk" if author is None else (author.full_name or author.email),
                at_iso=dates.iso(event.at),
                at=dates(event.at, EVENT_FORMAT),
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class OtherCase(Row):
    """A line of the case page's "other open cases of this organization"."""

    url: str
    reference: str
    subject: str
    priority: str
    status: str  # the label
    assignee_email: str  # "" when unassigned


OTHER_CASE_FIELDS = (
    "subject",
    "status",
    "next_due",
    "opened_at",
    "priority__name",
    "assignee__email",
)


def other_cases(cases: Iterable[Case]) -> list[OtherCase]:
    """``cases`` with priority and assignee loaded."""
    url = reference_urls("desk:case")
    labels = dict(Status.choices)
    return [
        OtherCase(
            url=url(case.reference),
            reference=case.reference,
            subject=case.subject,
            priority=case.priority.name,
            status=labels.get(case.status, case.status),
            assignee_email="" if case.assignee is None else case.assignee.email,
        )
        for case in cases
    ]
