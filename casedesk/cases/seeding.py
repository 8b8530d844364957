"""Many realistic cases at once: for the demo, for benchmarks, for trying the desk at scale.

This module deliberately bypasses ``cases.services``. Opening 100,000 cases one by
one through the entry point would take an hour and enqueue 400,000 SLA tasks; here
rows are written with ``bulk_create`` in batches (one transaction each) and no task
is enqueued. The periodic SLA sweep acts on any seeded case whose deadline passes
later. The fields still agree with what services would have stored:

1. Due instants come from ``sla`` on the priority's own clock (the support calendar,
   or 24x7 for Critical), and the resolution due counts the case's pauses exactly
   as ``sla.due_after`` does; ``next_due`` is ``services.next_due``.
2. A breach flag is set only where the due instant passed while the clock ran: the
   first response before an answer (or before resolution), the resolution before it
   was resolved. Seeded breaches also get their ``sla_breach`` event.
3. A pending case has ``paused_since`` and an open ``Pause``; other cases may have a
   finished one (the customer took a day to send logs).
4. Every case has a timeline (opened, assignment, a public reply, status changes,
   sometimes an internal note or a customer's reply), in time order.

The first cases go round-robin over every (organization, status) pair, so even a
small seed shows every state in every organization; after that the draws are
random (seeded) in realistic proportions.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import DateTimeField, Model
from django.utils import timezone
from tqdm import tqdm

from casedesk.accounts.models import Organization, OrganizationDomain, Role, User
from casedesk.cases import services, sla
from casedesk.cases.defaults import ensure_priorities
from casedesk.cases.models import (
    DONE_STATUSES,
    Case,
    Channel,
    Event,
    EventKind,
    Pause,
    Priority,
    SlaNotice,
    Status,
)
from casedesk.cases.seeding_texts import (
    AGENT_REPLIES,
    CUSTOMER_NAMES,
    CUSTOMER_REPLIES,
    DESCRIPTIONS,
    EXTRA_COMPANIES,
    HOLD_REASONS,
    IMPACTS,
    NOTES,
    PENDING_REPLIES,
    RESOLUTIONS,
    SUBJECTS,
)
from casedesk.hours.clock import BusinessClock
from casedesk.hours.services import current_calendar

# Share of cases in each status: a desk that keeps up has most of its history closed.
STATUS_WEIGHTS: dict[str, int] = {
    Status.NEW: 6,
    Status.OPEN: 16,
    Status.PENDING: 8,
    Status.ON_HOLD: 4,
    Status.RESOLVED: 12,
    Status.CLOSED: 54,
}
# How far back a case in each status was opened (days, capped by SeedPlan.days):
# new cases are days old, closed ones go back the whole history.
STATUS_AGE_DAYS: dict[str, int] = {
    Status.NEW: 3,
    Status.OPEN: 30,
    Status.PENDING: 30,
    Status.ON_HOLD: 60,
    Status.RESOLVED: 14,
    Status.CLOSED: 90,
}
# Few cases are critical; priorities an admin added get the "other" weight.
PRIORITY_WEIGHTS = {"Critical": 3, "High": 17, "Medium": 50, "Low": 30}
OTHER_PRIORITY_WEIGHT = 10
CHANNEL_WEIGHTS: dict[str, int] = {
    Channel.PORTAL: 45,
    Channel.EMAIL: 35,
    Channel.CHAT: 12,
    Channel.PHONE: 8,
}
# Cases arrive mostly in support hours: a draw outside them is kept this often.
KEEP_AFTER_HOURS = 0.3
# Unassigned shares: most new cases wait for triage; a few active ones too.
UNASSIGNED_NEW = 0.7
UNASSIGNED_OTHER = 0.08
FINISHED_PAUSE_SHARE = 0.25
NOTE_SHARE = 0.35
# Open cases triaged (status changed) without a public reply yet.
OPEN_UNANSWERED_SHARE = 0.05


class SeedError(ValueError):
    """Nothing to seed into (no organization with a customer)."""


@dataclass(frozen=True)
class SeedPlan:
    """How many cases, for whom, over how long."""

    cases: int
    new_organizations: int = 0  # extra organizations to create, one customer each
    seed: int = 1
    days: int = 90  # cases open over this many days up to ``now``
    organization_names: Sequence[str] = ()  # only these organizations; empty: all
    now: datetime | None = None
    batch_size: int = 2000
    progress: bool = True  # a tqdm bar on stderr


@dataclass
class SeedResult:
    cases: int = 0
    events: int = 0
    pauses: int = 0
    organizations: list[str] = field(default_factory=list)  # created ones


# Timeline rows are plain tuples written with one executemany per batch: building
# and compiling half a million Event objects would take most of a seed's time.
EVENT_COLUMNS = ("kind", "public", "author_id", "body", "old_value", "new_value", "reason", "at")
PAUSE_COLUMNS = ("kind", "started_at", "ended_at")
EventRow = tuple[str, bool, int | None, str, str, str, str, datetime]
PauseRow = tuple[str, datetime, datetime | None]


@dataclass
class _Draft:
    case: Case
    events: list[EventRow]
    pauses: list[PauseRow]


def seed_cases(plan: SeedPlan) -> SeedResult:
    """Write ``plan.cases`` cases with their timelines; returns what was created."""
    if plan.cases < 0:
        raise SeedError("the number of cases cannot be negative")
    ensure_priorities()
    rng = random.Random(plan.seed)  # noqa: S311 - sample data, seeded so a run repeats
    result = SeedResult()
    if plan.new_organizations:
        result.organizations = _add_organizations(plan.new_organizations, rng)
    maker = _CaseMaker(plan, rng)
    bar = tqdm(
        total=plan.cases,
        desc="seeding cases",
        unit="case",
        file=sys.stderr,
        disable=not plan.progress,
    )
    with bar:
        done = 0
        while done < plan.cases:
            size = min(plan.batch_size, plan.cases - done)
            drafts = [maker.draft(done + i) for i in range(size)]
            with transaction.atomic():
                Case.objects.bulk_create([d.case for d in drafts])
                events = [(d.case.pk, *row) for d in drafts for row in d.events]
                pauses = [(d.case.pk, *row) for d in drafts for row in d.pauses]
                _insert(Event, ("case_id", *EVENT_COLUMNS), events)
                _insert(Pause, ("case_id", *PAUSE_COLUMNS), pauses)
            result.cases += size
            result.events += len(events)
            result.pauses += len(pauses)
            done += size
            bar.update(size)
    return result


def _insert(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One parameterised INSERT for many rows; datetimes adapted as the ORM would."""
    if not rows:
        return
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in columns]
    moments = [i for i, f in enumerate(fields) if isinstance(f, DateTimeField)]
    prepared = []
    for row in rows:
        values = list(row)
        for i in moments:
            values[i] = ops.adapt_datetimefield_value(values[i])
        prepared.append(values)
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(str(f.column)) for f in fields)  # type: ignore[union-attr]
    marks = ", ".join(["%s"] * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - the model's names
    with connection.cursor() as cursor:
        cursor.executemany(insert, prepared)


def _add_organizations(count: int, rng: random.Random) -> list[str]:
    taken_names = set(Organization.objects.values_list("name", flat=True))
    taken_domains = set(OrganizationDomain.objects.values_list("domain", flat=True))
    made: list[str] = []
    number = 0
    while len(made) < count:
        base = EXTRA_COMPANIES[number % len(EXTRA_COMPANIES)]
        round_ = number // len(EXTRA_COMPANIES)
        number += 1
        name = base if round_ == 0 else f"{base} {round_ + 1}"
        domain = f"{name.lower().replace(' ', '-')}.example"
        if name in taken_names or domain in taken_domains:
            continue
        with transaction.atomic():
            organization = Organization.objects.create(name=name)
            OrganizationDomain.objects.create(organization=organization, domain=domain)
            full_name = rng.choice(CUSTOMER_NAMES)
            local = full_name.lower().replace(" ", ".")
            # No password: seeded customers are invited (or not) like real ones.
            User.objects.create_user(
                f"{local}@{domain}", None, organization=organization, full_name=full_name
            )
        made.append(name)
    return made


def _weighted(rng: random.Random, weights: dict[str, int]) -> Callable[[], str]:
    keys, values = list(weights), list(weights.values())
    cumulative = [sum(values[: i + 1]) for i in range(len(values))]
    total = cumulative[-1]

    def draw() -> str:
        point = rng.random() * total
        for key, edge in zip(keys, cumulative, strict=True):
            if point < edge:
                return key
        return keys[-1]

    return draw


class _CaseMaker:
    """Draws one case and its timeline at a time; all reads happen once, up front."""

    def __init__(self, plan: SeedPlan, rng: random.Random) -> None:
        self.rng = rng
        self.now = plan.now or timezone.now()
        self.days = max(plan.days, 1)
        organizations = Organization.objects.order_by("pk")
        if plan.organization_names:
            organizations = organizations.filter(name__in=plan.organization_names)
        customers: dict[int, list[int]] = {}
        for person_id, organization_id in User.objects.filter(
            role=Role.CUSTOMER, is_active=True, organization__in=organizations
        ).values_list("pk", "organization_id"):
            customers.setdefault(organization_id, []).append(person_id)
        self.organizations = sorted(customers)
        if not self.organizations:
            raise SeedError(
                "no organization with an active customer to open cases for "
                "(create some with --organizations K)"
            )
        self.customers = customers
        self.agents: dict[int, str] = dict(
            User.objects.filter(role__in=(Role.AGENT, Role.ADMIN), is_active=True)
            .order_by("pk")
            .values_list("pk", "email")
        )
        self.agent_ids = list(self.agents)
        self.priorities = list(Priority.objects.all())
        self.priority_clocks: dict[int, BusinessClock] = {
            p.pk: sla.clock_for(p.clock) for p in self.priorities
        }
        self.support = current_calendar().clock
        self.draw_status = _weighted(rng, STATUS_WEIGHTS)
        self.draw_channel = _weighted(rng, CHANNEL_WEIGHTS)
        by_name = {p.name: p for p in self.priorities}
        draw_priority = _weighted(
            rng,
            {p.name: PRIORITY_WEIGHTS.get(p.name, OTHER_PRIORITY_WEIGHT) for p in self.priorities},
        )
        self.draw_priority: Callable[[], Priority] = lambda: by_name[draw_priority()]
        self.statuses = list(STATUS_WEIGHTS)

    # ---- one case ------------------------------------------------------------------

    def draft(self, index: int) -> _Draft:
        rng = self.rng
        pairs = len(self.organizations) * len(self.statuses)
        if index < pairs:  # every state in every organization first
            organization_id = self.organizations[index % len(self.organizations)]
            status = self.statuses[index // len(self.organizations)]
        else:
            organization_id = rng.choice(self.organizations)
            status = self.draw_status()
        requester_id = rng.choice(self.customers[organization_id])
        priority = self.draw_priority()
        opened_at = self._opened_at(status)
        critical_priority = next((p for p in self.priorities if p.is_critical), None)
        if index < pairs and status == Status.OPEN and critical_priority is not None:
            # Every organization has a critical case from after hours (the desk filter).
            priority = critical_priority
            opened_at = self._opened_after_hours(status)
        clock = self.priority_clocks[priority.pk]
        # The agent who works the case (and, unless it waits for triage, its assignee).
        agent_id = rng.choice(self.agent_ids) if self.agent_ids else None
        unassigned_share = UNASSIGNED_NEW if status == Status.NEW else UNASSIGNED_OTHER
        unassigned = status not in DONE_STATUSES and rng.random() < unassigned_share
        assignee_id = None if unassigned else agent_id
        critical = priority.is_critical
        day = timezone.localtime(opened_at).strftime("%A")
        case = Case(
            organization_id=organization_id,
            requester_id=requester_id,
            subject=rng.choice(SUBJECTS),
            description=rng.choice(DESCRIPTIONS).format(day=day),
            priority=priority,
            characteristics=rng.choice(["a", "b", "c", "ab", "ac", "bc", "abc"])
            if critical
            else "",
            business_impact=rng.choice(IMPACTS) if critical else "",
            status=status,
            assignee_id=assignee_id,
            channel=self.draw_channel(),
            opened_at=opened_at,
            opened_after_hours=not self.support.is_open(opened_at),
        )
        case.take_targets(priority)
        case.after_hours_alarm = critical and case.opened_after_hours
        timeline = _Timeline(case, self.now)
        timeline.add(
            EventKind.OPENED,
            requester_id,
            opened_at,
            public=True,
            body=case.description,
            new_value=priority.name,
        )
        if critical and case.opened_after_hours:
            timeline.add(
                EventKind.AFTER_HOURS_CRITICAL,
                None,
                opened_at,
                body="Critical case outside support hours: the on-call engineer must respond.",
            )
        self._work(case, timeline, clock, agent_id, requester_id)
        return _Draft(case, timeline.events, timeline.pauses)

    def _opened_at(self, status: str) -> datetime:
        window = timedelta(days=min(STATUS_AGE_DAYS[status], self.days))
        latest = self.now - timedelta(minutes=10)
        for _ in range(6):
            at = latest - window * self.rng.random()
            at = at.replace(microsecond=0)
            if self.support.is_open(at) or self.rng.random() < KEEP_AFTER_HOURS:
                break
        return at

    def _opened_after_hours(self, status: str) -> datetime:
        at = self._opened_at(status)
        for _ in range(50):
            if not self.support.is_open(at):
                break
            at = self._opened_at(status)
        return at

    def _between(self, start: datetime, end: datetime, low: float, high: float) -> datetime:
        return start + (end - start) * self.rng.uniform(low, high)

    def _work(
        self,
        case: Case,
        timeline: _Timeline,
        clock: BusinessClock,
        agent_id: int | None,
        requester_id: int,
    ) -> None:
        """What support did: the reply, pauses, notes, and the status it ended in."""
        rng, now, start = self.rng, self.now, case.opened_at
        priority = case.priority
        status = case.status
        first_due = clock.add(start, priority.first_response_target)
        if case.assignee_id is not None:
            timeline.add(
                EventKind.ASSIGNMENT,
                agent_id,
                self._between(start, min(first_due, now), 0.0, 0.1),
                new_value=self.agents[case.assignee_id],
            )
        responded: datetime | None = None
        if status != Status.NEW:
            answered = status != Status.OPEN or rng.random() >= OPEN_UNANSWERED_SHARE
            at = clock.add(start, priority.first_response_target * rng.triangular(0.05, 1.4, 0.4))
            if at >= now - timedelta(minutes=5):
                at = self._between(start, now, 0.05, 0.4)
            if answered:
                responded = at
                timeline.add(
                    EventKind.REPLY, agent_id, at, public=True, body=rng.choice(AGENT_REPLIES)
                )
            else:
                timeline.add(EventKind.NOTE, agent_id, at, body=rng.choice(NOTES))
            timeline.status(Status.OPEN, agent_id, at)
        after = timeline.last
        resolution_target = priority.resolution_target or timedelta(hours=48)
        resolved_at: datetime | None = None
        if status in DONE_STATUSES:
            resolved_at = clock.add(after, resolution_target * rng.triangular(0.05, 1.15, 0.3))
            if resolved_at >= now - timedelta(minutes=2):
                resolved_at = self._between(after, now, 0.3, 0.9)
        end = resolved_at or now
        if status in (Status.OPEN, Status.ON_HOLD, *DONE_STATUSES):
            if rng.random() < FINISHED_PAUSE_SHARE:
                began = self._between(after, end, 0.1, 0.4)
                ended = self._between(began, end, 0.2, 0.8)
                timeline.add(
                    EventKind.REPLY, agent_id, began, public=True, body=rng.choice(PENDING_REPLIES)
                )
                timeline.status(Status.PENDING, agent_id, began)
                timeline.pause(Status.PENDING, began, ended)
                timeline.add(
                    EventKind.REPLY,
                    requester_id,
                    ended,
                    public=True,
                    body=rng.choice(CUSTOMER_REPLIES),
                )
                timeline.status(Status.OPEN, requester_id, ended, reason="The customer replied.")
            if rng.random() < NOTE_SHARE:
                timeline.add(
                    EventKind.NOTE,
                    agent_id,
                    self._between(timeline.last, end, 0.1, 0.6),
                    body=rng.choice(NOTES),
                )
        if status == Status.PENDING:
            began = self._between(timeline.last, now, 0.3, 0.95)
            timeline.add(
                EventKind.REPLY, agent_id, began, public=True, body=rng.choice(PENDING_REPLIES)
            )
            timeline.status(Status.PENDING, agent_id, began)
            timeline.pause(Status.PENDING, began, None)
            case.paused_since = began
        elif status == Status.ON_HOLD:
            timeline.status(
                Status.ON_HOLD,
                agent_id,
                self._between(timeline.last, now, 0.1, 0.6),
                reason=rng.choice(HOLD_REASONS),
            )
        elif resolved_at is not None:
            resolved_at = max(resolved_at, timeline.last)
            timeline.add(
                EventKind.REPLY, agent_id, resolved_at, public=True, body=rng.choice(RESOLUTIONS)
            )
            timeline.status(Status.RESOLVED, agent_id, resolved_at)
            case.resolved_at = resolved_at
            if status == Status.CLOSED:
                closed_at = resolved_at + timedelta(days=rng.uniform(1, 7))
                if closed_at >= now:
                    closed_at = self._between(resolved_at, now, 0.2, 0.9)
                timeline.status(Status.CLOSED, None, closed_at, reason="Closed after resolution.")
                case.closed_at = closed_at

        # The deadlines as services computes them (sla.deadlines), and what the breach tasks
        # would have done with them.
        worked = sla.deadlines(case, timeline.pauses, clock)
        case.first_response_due = worked.first_response_due
        case.first_responded_at = responded
        answered_or_over = responded or resolved_at or now
        if worked.first_response_due < answered_or_over:
            case.first_response_breached = True
            timeline.breach(SlaNotice.Target.FIRST_RESPONSE, worked.first_response_due)
        resolution_due = worked.resolution_due
        if resolution_due is not None and resolution_due < (resolved_at or now):
            case.resolution_breached = True
            timeline.breach(SlaNotice.Target.RESOLUTION, resolution_due)
        if resolved_at is not None:
            # Resolved (and closed, which stays resolved) is a pause that is still running,
            # exactly as services records it: reopened later, the time since does not count.
            timeline.pause(Status.RESOLVED, resolved_at, None)
            resolution_due = sla.deadlines(case, timeline.pauses, clock).resolution_due
        case.resolution_due = resolution_due
        case.next_due = services.next_due(case)


class _Timeline:
    """The events and pauses of one case, written in time order (status moves tracked)."""

    def __init__(self, case: Case, now: datetime) -> None:
        self.case = case
        self.now = now
        self.events: list[EventRow] = []
        self.pauses: list[PauseRow] = []
        self.current: str = Status.NEW
        self.last = case.opened_at

    def add(
        self,
        kind: str,
        author_id: int | None,
        at: datetime,
        *,
        public: bool = False,
        body: str = "",
        old_value: str = "",
        new_value: str = "",
        reason: str = "",
    ) -> None:
        at = min(max(at, self.last), self.now)
        self.last = at
        self.events.append((kind, public, author_id, body, old_value, new_value, reason, at))

    def status(self, status: str, by: int | None, at: datetime, reason: str = "") -> None:
        if status == self.current:
            return
        self.add(
            EventKind.STATUS,
            by,
            at,
            public=True,
            old_value=self.current,
            new_value=status,
            reason=reason,
        )
        self.current = status

    def pause(self, kind: str, began: datetime, ended: datetime | None) -> None:
        self.pauses.append((kind, began, ended))

    def breach(self, target: str, due: datetime) -> None:
        # Out of order on purpose: the breach happened at ``due``; the timeline sorts by time.
        label = SlaNotice.Target(target).label.lower()
        body = f"The {label} target of {self.case.priority.name} was missed."
        self.events.append((EventKind.SLA_BREACH, False, None, body, "", target, "", due))
