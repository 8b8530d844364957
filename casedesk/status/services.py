"""The one way the status page changes: incidents, maintenance, components, links to cases.

Views, tasks and the demo call these functions; each is one transaction that
records the update, the component status changes it made, bumps the page
version (cached summary, ETags) and, after commit, announces the event to
subscribers and webhooks (``tasks.announce``) unless the update says not to.
Errors a person can fix are :class:`StatusError` with messages per form field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.cases.models import Case
from casedesk.status.models import (
    CLOSED_STATUSES,
    Component,
    ComponentStatus,
    ComponentStatusChange,
    Impact,
    Incident,
    IncidentCase,
    IncidentStatus,
    IncidentUpdate,
    Kind,
    MaintenanceStatus,
    bump_version,
)

# Subscribers are reminded this long before a maintenance window opens; a window
# scheduled with less time left gets no reminder, and a reminder task running more
# than REMINDER_GRACE late is skipped (a "60 minutes" mail with 20 minutes left misleads).
REMINDER_BEFORE = timedelta(minutes=60)
REMINDER_GRACE = timedelta(minutes=5)
NAME_MAX = 200
BODY_MAX = 20_000


class StatusError(ValueError):
    """Something a person can fix, with messages per form field ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors

    @classmethod
    def on(cls, field_name: str, message: str) -> StatusError:
        return cls({field_name: [message]})


@dataclass
class Posting:
    """One update: its status, text, component statuses (by component), and whether to
    notify subscribers and webhooks."""

    status: str
    body: str
    component_statuses: Mapping[Component, str] = field(default_factory=dict)
    notify: bool = True


@dataclass
class NewIncident:
    name: str
    impact: str
    first: Posting


@dataclass
class NewMaintenance:
    name: str
    body: str
    components: Sequence[Component]
    scheduled_for: datetime | None = None  # None: unscheduled, in progress from now
    scheduled_until: datetime | None = None
    notify: bool = True


# ---- Reading -------------------------------------------------------------------------


def open_incidents() -> QuerySet[Incident]:
    """Unresolved incidents (not maintenance), newest first."""
    return Incident.objects.filter(kind=Kind.INCIDENT).exclude(status__in=CLOSED_STATUSES)


def open_incident_links() -> list[tuple[str, str]]:
    """``(name, absolute URL)`` of each open incident, for auto-replies and banners."""
    return [
        (incident.name, f"{settings.BASE_URL}{incident.get_absolute_url()}")
        for incident in open_incidents().only("name", "public_id", "kind")
    ]


def maintenance_in_progress() -> QuerySet[Incident]:
    return Incident.objects.filter(
        kind=Kind.MAINTENANCE,
        status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING],
    )


def upcoming_maintenance() -> QuerySet[Incident]:
    return Incident.objects.filter(kind=Kind.MAINTENANCE, status=MaintenanceStatus.SCHEDULED)


# ---- Checks --------------------------------------------------------------------------


# C0 control characters (pasted from PDFs and terminals) cannot be written in XML
# (the feeds) and show as nothing or garbage elsewhere. A name is one line: only tab;
# a body keeps tab and line breaks (a browser sends CR LF).
NAME_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")
BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_MESSAGE = "Remove the invisible control characters (pasted text can carry them)."


def _check_text(errors: dict[str, list[str]], name: str | None, body: str) -> None:
    if name is not None:
        if not name.strip():
            errors.setdefault("name", []).append("Give it a name.")
        elif len(name) > NAME_MAX:
            errors.setdefault("name", []).append(f"At most {NAME_MAX} characters.")
        elif NAME_CONTROL.search(name):
            errors.setdefault("name", []).append(CONTROL_MESSAGE)
    if not body.strip():
        errors.setdefault("body", []).append("Write what is happening.")
    elif len(body) > BODY_MAX:
        errors.setdefault("body", []).append("The text is too long.")
    elif BODY_CONTROL.search(body):
        errors.setdefault("body", []).append(CONTROL_MESSAGE)


def _check_posting(errors: dict[str, list[str]], kind: str, posting: Posting) -> None:
    allowed = IncidentStatus.values if kind == Kind.INCIDENT else MaintenanceStatus.values
    if posting.status not in allowed:
        errors.setdefault("status", []).append(f"Unknown status {posting.status!r}.")
    for component, status in posting.component_statuses.items():
        if status not in ComponentStatus.values:
            errors.setdefault("components", []).append(
                f"Unknown status {status!r} for {component.name}."
            )


def _require_staff(person: User) -> None:
    if not (person.is_active and person.is_vendor_staff):
        raise StatusError.on("", "Only support staff can change the status page.")


# ---- Writing -------------------------------------------------------------------------


def _apply_statuses(
    update: IncidentUpdate, statuses: Mapping[Component, str], at: datetime
) -> None:
    """Set each component's status, recording a change only where it differs."""
    for component in statuses:
        current = Component.objects.select_for_update().get(pk=component.pk)
        new = statuses[component]
        if current.status == new:
            continue
        ComponentStatusChange.objects.create(
            component=current, update=update, old_status=current.status, new_status=new, at=at
        )
        current.status = new
        current.save(update_fields=["status", "updated_at"])


def _record(
    incident: Incident, posting: Posting, by: User | None, now: datetime, *, event: str
) -> IncidentUpdate:
    update = IncidentUpdate.objects.create(
        incident=incident,
        status=posting.status,
        body=posting.body.strip(),
        created_at=now,
        updated_at=now,
        display_at=now,
        deliver_notifications=posting.notify,
        author=by,
    )
    _apply_statuses(update, posting.component_statuses, now)
    bump_version()
    if posting.notify:
        _announce(event, incident, update)
    return update


def _announce(event: str, incident: Incident, update: IncidentUpdate | None) -> None:
    from casedesk.status import tasks

    incident_id, update_id = incident.pk, update.pk if update else None
    transaction.on_commit(lambda: tasks.announce.enqueue(event, incident_id, update_id))


@transaction.atomic
def create_incident(new: NewIncident, by: User) -> Incident:
    _require_staff(by)
    errors: dict[str, list[str]] = {}
    _check_text(errors, new.name, new.first.body)
    if new.impact not in (Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL):
        errors.setdefault("impact", []).append(f"Unknown impact {new.impact!r}.")
    _check_posting(errors, Kind.INCIDENT, new.first)
    if errors:
        raise StatusError(errors)
    now = timezone.now()
    incident = Incident.objects.create(
        kind=Kind.INCIDENT,
        name=new.name.strip(),
        status=new.first.status,
        impact=new.impact,
        created_at=now,
        updated_at=now,
        started_at=now,
        created_by=by,
    )
    incident.components.set(list(new.first.component_statuses))
    _stamp(incident, new.first.status, now, by)
    incident.save()
    _record(incident, new.first, by, now, event="incident_created")
    return incident


def _stamp(incident: Incident, status: str, now: datetime, by: User | None) -> None:
    if status == IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status in CLOSED_STATUSES and incident.resolved_at is None:
        incident.resolved_at = now
        incident.resolved_by = by
    elif status not in CLOSED_STATUSES:
        incident.resolved_at = None  # reopened
        incident.resolved_by = None


@transaction.atomic
def post_update(incident: Incident, posting: Posting, by: User) -> IncidentUpdate:
    """A new entry on the timeline; may change the status and component statuses.

    Resolving an incident (or completing a maintenance) puts its components back
    to operational unless the posting says otherwise, and tells the requesters
    of the linked cases (one public reply each, from ``by``).
    """
    _require_staff(by)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    errors: dict[str, list[str]] = {}
    _check_text(errors, None, posting.body)
    _check_posting(errors, incident.kind, posting)
    if (
        incident.is_maintenance
        and incident.status == MaintenanceStatus.COMPLETED
        and posting.status != MaintenanceStatus.COMPLETED
    ):
        # Its window is over and its components handed back: more work is new maintenance.
        errors.setdefault("status", []).append(
            "This maintenance is completed: schedule new maintenance for more work."
        )
    if errors:
        raise StatusError(errors)
    return _post(incident, posting, by, timezone.now())


def _post(incident: Incident, posting: Posting, by: User | None, now: datetime) -> IncidentUpdate:
    was_open = incident.is_open
    closing = was_open and posting.status in CLOSED_STATUSES
    statuses = dict(posting.component_statuses)
    if closing:
        # Back to operational, except what another open incident or running maintenance
        # still holds: that goes back to the status its holder last set (a maintenance
        # completing hands a component back to the outage an incident recorded).
        holders = (
            Incident.objects.exclude(pk=incident.pk)
            .exclude(status__in=CLOSED_STATUSES)
            .exclude(kind=Kind.MAINTENANCE, status=MaintenanceStatus.SCHEDULED)
        )
        held = set(holders.values_list("components", flat=True))
        for component in incident.components.all():
            if component.pk not in held:
                statuses.setdefault(component, ComponentStatus.OPERATIONAL)
                continue
            last = (
                ComponentStatusChange.objects.filter(
                    component=component, update__incident__in=holders
                )
                .order_by("-at", "-pk")
                .values_list("new_status", flat=True)
                .first()
            )
            if last is not None:
                statuses.setdefault(component, last)
    elif posting.status in (MaintenanceStatus.IN_PROGRESS,) and incident.is_maintenance:
        for component in incident.components.all():
            statuses.setdefault(component, ComponentStatus.UNDER_MAINTENANCE)
    incident.components.add(*statuses.keys())
    if incident.is_maintenance and posting.status == MaintenanceStatus.IN_PROGRESS:
        incident.started_at = incident.started_at if incident.status != "scheduled" else now
    incident.status = posting.status
    incident.updated_at = now
    _stamp(incident, posting.status, now, by)
    incident.save()
    event = _event_for(incident, posting.status, was_open)
    update = _record(
        incident,
        Posting(posting.status, posting.body, statuses, posting.notify),
        by,
        now,
        event=event,
    )
    if closing and by is not None:
        from casedesk.status import tasks

        incident_id, by_id = incident.pk, by.pk
        transaction.on_commit(lambda: tasks.tell_linked_cases.enqueue(incident_id, by_id))
    return update


def _event_for(incident: Incident, status: str, was_open: bool) -> str:
    if incident.is_maintenance:
        events = {
            MaintenanceStatus.IN_PROGRESS.value: "maintenance_started",
            MaintenanceStatus.COMPLETED.value: "maintenance_completed",
        }
        return events.get(status, "maintenance_updated")
    if status in CLOSED_STATUSES and was_open:
        return "incident_resolved"
    return "incident_updated"


@transaction.atomic
def create_maintenance(new: NewMaintenance, by: User) -> Incident:
    """Schedule a window (tasks start, complete and remind at its edges), or, with no
    window start, record unscheduled maintenance already in progress."""
    _require_staff(by)
    errors: dict[str, list[str]] = {}
    _check_text(errors, new.name, new.body)
    now = timezone.now()
    _check_window(errors, new.scheduled_for, new.scheduled_until, now)
    if errors:
        raise StatusError(errors)
    unscheduled = new.scheduled_for is None
    status = MaintenanceStatus.IN_PROGRESS if unscheduled else MaintenanceStatus.SCHEDULED
    maintenance = Incident.objects.create(
        kind=Kind.MAINTENANCE,
        name=new.name.strip(),
        status=status,
        impact=Impact.MAINTENANCE,
        created_at=now,
        updated_at=now,
        # As Statuspage: a scheduled maintenance's started_at is when it was posted
        # (the window is scheduled_for); it becomes the real start when work begins.
        started_at=now,
        scheduled_for=now if unscheduled else new.scheduled_for,
        scheduled_until=new.scheduled_until,
        unscheduled=unscheduled,
        reminded_at=None if unscheduled else _no_reminder_due(new.scheduled_for, now),
        created_by=by,
    )
    maintenance.components.set(new.components)
    statuses: dict[Component, str] = (
        dict.fromkeys(new.components, ComponentStatus.UNDER_MAINTENANCE) if unscheduled else {}
    )
    event = "maintenance_started" if unscheduled else "maintenance_scheduled"
    _record(maintenance, Posting(status, new.body, statuses, new.notify), by, now, event=event)
    schedule_edges(maintenance)
    return maintenance


def _no_reminder_due(start: datetime | None, now: datetime) -> datetime | None:
    """``now`` when a window opening at ``start`` is too close for a reminder (stored as
    ``reminded_at``: the reminder is settled, no task or sweep sends it), else None."""
    if start is not None and start - now < REMINDER_BEFORE:
        return now
    return None


def _check_window(
    errors: dict[str, list[str]], start: datetime | None, end: datetime | None, now: datetime
) -> None:
    if start is not None:
        if end is None or end <= start:
            errors.setdefault("scheduled_until", []).append("The window must end after it starts.")
        if start < now - timedelta(minutes=5):
            errors.setdefault("scheduled_for", []).append(
                "That is in the past: for work under way now, leave the start empty."
            )
    elif end is not None and end <= now:
        errors.setdefault("scheduled_until", []).append("The expected end must be in the future.")


@transaction.atomic
def reschedule(
    maintenance: Incident,
    scheduled_for: datetime | None,
    scheduled_until: datetime | None,
    body: str,
    by: User,
    notify: bool = True,
) -> IncidentUpdate:
    """Move a maintenance window: before it starts, both edges; once under way, its end.

    The new edges get new tasks; the old ones find the window moved and do nothing.
    A new start also means a new reminder.
    """
    _require_staff(by)
    maintenance = Incident.objects.select_for_update().get(pk=maintenance.pk)
    errors: dict[str, list[str]] = {}
    _check_text(errors, None, body)
    now = timezone.now()
    if not maintenance.is_maintenance or not maintenance.is_open:
        errors.setdefault("", []).append("Only open maintenance can be moved.")
    elif maintenance.status == MaintenanceStatus.SCHEDULED:
        if scheduled_for is None:
            errors.setdefault("scheduled_for", []).append("Give the new start.")
        _check_window(errors, scheduled_for, scheduled_until, now)
    else:
        scheduled_for = maintenance.scheduled_for
        if scheduled_until is None or scheduled_until <= now:
            errors.setdefault("scheduled_until", []).append("The new end must be in the future.")
    if errors:
        raise StatusError(errors)
    if (
        maintenance.status == MaintenanceStatus.SCHEDULED
        and scheduled_for != maintenance.scheduled_for
    ):
        maintenance.reminded_at = _no_reminder_due(scheduled_for, now)
    maintenance.scheduled_for = scheduled_for
    maintenance.scheduled_until = scheduled_until
    maintenance.updated_at = now
    maintenance.save()
    update = _record(
        maintenance,
        Posting(maintenance.status, body, notify=notify),
        by,
        now,
        event="maintenance_rescheduled",
    )
    schedule_edges(maintenance)
    return update


# ---- Maintenance at the window's edges --------------------------------------------------

START, COMPLETE, REMIND = "start", "complete", "remind"

AUTOMATIC_TEXT = {
    START: "Scheduled maintenance is currently in progress. We will provide updates as necessary.",
    COMPLETE: "The scheduled maintenance has been completed.",
}


def edges(maintenance: Incident) -> list[tuple[str, datetime]]:
    """The instants at which a task must act: reminder, start, completion."""
    found = []
    # In UTC: "60 minutes before" is 60 real minutes, also across a clock change.
    start = maintenance.scheduled_for.astimezone(UTC) if maintenance.scheduled_for else None
    if maintenance.status == MaintenanceStatus.SCHEDULED and start is not None:
        if maintenance.reminded_at is None and not maintenance.unscheduled:
            found.append((REMIND, start - REMINDER_BEFORE))
        found.append((START, start))
    if maintenance.scheduled_until and maintenance.is_open:
        found.append((COMPLETE, maintenance.scheduled_until.astimezone(UTC)))
    return found


def schedule_edges(maintenance: Incident) -> None:
    """Enqueue a task for each edge, carrying the instant it was made for (a moved
    window makes the old ones stale). django-tasks-db stores them in this transaction."""
    from casedesk.status import tasks

    for edge, at in edges(maintenance):
        tasks.maintenance_edge.using(run_after=at).enqueue(maintenance.pk, edge, at.isoformat())


@transaction.atomic
def act_on_edge(maintenance_id: int, edge: str, at: datetime, now: datetime | None = None) -> str:
    """Start, complete or remind, if the window still says so; returns what it did.

    The row is locked; a window moved since the task was made, a maintenance
    already started or completed by an agent, or a reminder already sent make
    the call do nothing, so a duplicate task, a requeued one and the sweep act once.
    """
    now = now or timezone.now()
    maintenance = (
        Incident.objects.select_for_update()
        .filter(pk=maintenance_id, kind=Kind.MAINTENANCE)
        .first()
    )
    if maintenance is None:
        return "stale: deleted"
    if now < at:
        return "early"
    if edge == REMIND:
        if (
            maintenance.scheduled_for is None
            or maintenance.scheduled_for.astimezone(UTC) - REMINDER_BEFORE != at
        ):
            return "stale: window moved"
        if maintenance.status != MaintenanceStatus.SCHEDULED or maintenance.reminded_at:
            return "stale: reminded or started"
        maintenance.reminded_at = now
        maintenance.save(update_fields=["reminded_at"])
        if now - at > REMINDER_GRACE:
            return "stale: too late to remind"  # settled: the sweep does not try again
        _announce("maintenance_reminder", maintenance, None)
        return "reminded"
    if edge == START:
        if maintenance.scheduled_for != at:
            return "stale: window moved"
        if maintenance.status != MaintenanceStatus.SCHEDULED:
            return "stale: not scheduled"
        _post(maintenance, Posting(MaintenanceStatus.IN_PROGRESS, AUTOMATIC_TEXT[START]), None, now)
        return "started"
    if edge == COMPLETE:
        if maintenance.scheduled_until != at:
            return "stale: window moved"
        if not maintenance.is_open:
            return "stale: completed"
        _post(
            maintenance, Posting(MaintenanceStatus.COMPLETED, AUTOMATIC_TEXT[COMPLETE]), None, now
        )
        return "completed"
    raise ValueError(f"unknown maintenance edge {edge!r}")


def due_edges(now: datetime) -> list[tuple[int, str, datetime]]:
    """Edges that have passed without their task acting (the sweep's work)."""
    found = []
    candidates = Incident.objects.filter(kind=Kind.MAINTENANCE).exclude(status__in=CLOSED_STATUSES)
    candidates = candidates.filter(
        Q(scheduled_for__lte=now + REMINDER_BEFORE, reminded_at__isnull=True)
        | Q(scheduled_for__lte=now, status=MaintenanceStatus.SCHEDULED)
        | Q(scheduled_until__lte=now)
    )
    for maintenance in candidates:
        for edge, at in edges(maintenance):
            if at <= now:
                found.append((maintenance.pk, edge, at))
    return found


# ---- Cases linked to incidents -------------------------------------------------------------


@transaction.atomic
def link_case(incident: Incident, case: Case, by: User) -> IncidentCase:
    """Link a case to an open incident (its requester is told when it resolves).

    An incident already resolved is refused: nothing would ever tell the requester.
    The row is locked, so a resolution running now either sees this link or refuses it.
    """
    _require_staff(by)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise StatusError.on(
            "reference",
            "This incident is already resolved, so its requesters will not be told: "
            "reply on the case yourself.",
        )
    link, _ = IncidentCase.objects.get_or_create(
        incident=incident, case=case, defaults={"linked_by": by}
    )
    return link


def linked_incidents(case: Case) -> QuerySet[Incident]:
    return Incident.objects.filter(case_links__case=case).distinct()


def tell_linked_cases(incident_id: int, by_id: int) -> int:
    """One public reply per linked case saying the incident is resolved; returns how many.

    Each link is claimed (``told_at``) in the same transaction as its reply, so a
    retried task never tells a requester twice and a failed reply is tried again.
    A closed case is skipped (it takes no replies).
    """
    from casedesk.cases import services as cases
    from casedesk.cases.models import Status

    incident = Incident.objects.get(pk=incident_id)
    author = User.objects.get(pk=by_id)
    told = 0
    for link in IncidentCase.objects.filter(incident=incident, told_at__isnull=True).select_related(
        "case"
    ):
        with transaction.atomic():
            if not IncidentCase.objects.filter(pk=link.pk, told_at__isnull=True).update(
                told_at=timezone.now()
            ):
                continue
            if link.case.status == Status.CLOSED:
                continue
            url = f"{settings.BASE_URL}{incident.get_absolute_url()}"
            body = (
                f"The incident that affected this case is resolved: {incident.name}.\n"
                f"What happened and what we did: {url}\n"
                "If you still see the problem, reply to this message."
            )
            cases.add_reply(link.case, author, body)
            told += 1
    return told
