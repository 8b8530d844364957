"""The one entry point that opens and changes cases: portal, email, phone and chat call these.

Each function is one transaction: it locks the case row, changes it, records the
event on the timeline, recomputes the SLA deadlines and schedules their tasks
(in the same transaction, so a deadline can never be lost between a commit and
an enqueue). Rules live here, not in views: who may do what, what counts as a
first response, when the resolution clock pauses.

Errors a person can fix raise :class:`CaseError` with a message per field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from casedesk.accounts.models import Organization, Role, User
from casedesk.cases import files, sla
from casedesk.cases.models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Attachment,
    Case,
    Channel,
    Characteristic,
    Event,
    EventKind,
    Pause,
    Priority,
    SlaNotice,
    Status,
)
from casedesk.cases.signals import critical_case_opened_after_hours
from casedesk.lib.durations import humanize_duration

SUBJECT_MAX = 200
BODY_MAX = 100_000
# Channels whose form can ask which critical characteristics apply. Email and the
# phone line cannot; the agent triages those (and may downgrade).
CHANNELS_THAT_ASK = (Channel.PORTAL,)
# The resolution clock does not run in these (see _set_status).
PAUSED_STATUSES = (Status.PENDING, Status.RESOLVED)


class CaseError(ValueError):
    """Input a person can correct. ``errors`` maps a field name ("" for the whole) to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))

    @classmethod
    def on(cls, field_name: str, message: str) -> CaseError:
        return cls({field_name: [message]})


@dataclass(frozen=True)
class NewCase:
    """What a channel knows when it opens a case."""

    requester: User
    subject: str
    priority: Priority
    description: str = ""
    channel: str = Channel.PORTAL
    organization: Organization | None = None  # the requester's, when not given
    characteristics: str = ""  # letters of Characteristic, e.g. "ac"
    business_impact: str = ""
    attachments: Sequence[UploadedFile] = field(default_factory=tuple)
    opened_by: User | None = None  # an agent opening on the customer's behalf
    opened_at: datetime | None = None  # now, unless a channel received it earlier
    # Mail the requester the confirmation. Email turns it off and sends it itself,
    # as an RFC 3834 auto-reply, only when the message may be answered.
    confirm: bool = True
    # The portal form's one-time token: a repeat post returns the case it opened.
    submission_token: str = ""
    # Email whose sender SPF, DKIM and DMARC could not vouch for (mail/process.py): the
    # case, its opening entry and any page about it say "sender not verified".
    unverified_sender: bool = False


def _normalize_characteristics(letters: str | Sequence[str]) -> str:
    chosen = {str(letter).strip().lower() for letter in letters if str(letter).strip()}
    valid = {c.value for c in Characteristic}
    unknown = chosen - valid
    if unknown:
        raise CaseError.on(
            "characteristics", f"Unknown characteristic: {', '.join(sorted(unknown))}."
        )
    return "".join(sorted(chosen))


def _locked(case: Case) -> Case:
    return (
        Case.objects.select_for_update().select_related("priority", "organization").get(pk=case.pk)
    )


def _event(case: Case, kind: str, by: User | None, *, public: bool, **fields: Any) -> Event:
    return Event.objects.create(case=case, kind=kind, author=by, public=public, **fields)


# ---- Opening ------------------------------------------------------------------------


def open_case(new: NewCase) -> Case:
    """Open a case; its SLA clocks start at ``opened_at`` (see :func:`open_case_with_event`)."""
    return open_case_with_event(new)[0]


@transaction.atomic
def open_case_with_event(new: NewCase) -> tuple[Case, Event | None]:
    """Open a case, and say which event recorded it (None for a repeated submission,
    see below): for a channel that points at the event (mail: ``InboundMessage.event``)
    without reading it back.

    Its SLA clocks start at ``opened_at``.

    Outside support hours a non-critical case is accepted and queued (its
    business-hours clock simply has not started); a critical one records
    ``after_hours_critical`` on the timeline and sends
    ``critical_case_opened_after_hours`` once the transaction commits.

    With a ``submission_token`` the case is opened once per token and requester: a
    repeat (a double click, a retried post) returns the case the first one opened,
    unchecked and unchanged. Racing posts meet at the unique constraint
    ``one_case_per_submission``: on PostgreSQL the loser's insert waits for the
    winner's commit, fails, and reads the winner's case; SQLite's ``IMMEDIATE``
    transactions run them one after the other, so the loser finds it first.
    """
    requester = new.requester
    if new.submission_token:
        earlier = _submitted(requester, new.submission_token)
        if earlier is not None:
            return earlier, None
    organization = new.organization or requester.organization
    errors: dict[str, list[str]] = {}
    if organization is None:
        errors.setdefault("", []).append("A case needs the customer's organization.")
    elif requester.is_customer and requester.organization_id != organization.pk:
        errors.setdefault("", []).append("The requester does not belong to that organization.")
    subject = " ".join((new.subject or "").split())
    if not subject:
        errors.setdefault("subject", []).append("Say in a few words what is wrong.")
    elif len(subject) > SUBJECT_MAX:
        errors.setdefault("subject", []).append(f"Keep the subject under {SUBJECT_MAX} characters.")
    if len(new.description) > BODY_MAX:
        errors.setdefault("description", []).append("The description is too long.")
    try:
        characteristics = _normalize_characteristics(new.characteristics)
    except CaseError as exc:
        errors.update(exc.errors)
        characteristics = ""
    impact = new.business_impact.strip()
    if new.priority.is_critical and new.channel in CHANNELS_THAT_ASK:
        if not characteristics:
            errors.setdefault("characteristics", []).append(
                "A critical case needs at least one of (a), (b) or (c); "
                "if none applies, choose another priority."
            )
        if not impact:
            errors.setdefault("business_impact", []).append(
                "Describe the business impact: who cannot work, and since when."
            )
    if not new.priority.is_critical:
        characteristics = ""  # only a critical case says which of (a), (b), (c) applies
    try:
        files.check(new.attachments)
    except files.AttachmentRejected as exc:
        errors.setdefault("attachments", []).append(str(exc))
    if errors:
        raise CaseError(errors)
    assert organization is not None

    opened_at = new.opened_at or timezone.now()
    case = Case(
        organization=organization,
        requester=requester,
        subject=subject,
        description=new.description.strip(),
        characteristics=characteristics,
        business_impact=impact,
        channel=new.channel,
        opened_at=opened_at,
        opened_after_hours=not sla.is_support_open(opened_at),
        submission_token=new.submission_token,
        unverified_sender=new.unverified_sender,
    )
    case.take_targets(new.priority)
    case.after_hours_alarm = new.priority.is_critical and case.opened_after_hours
    deadlines = _apply_deadlines(case)
    if not new.submission_token:
        case.save(force_insert=True)  # no constraint a new case could meet: no savepoint
    else:
        try:
            with transaction.atomic():
                case.save(force_insert=True)
        except IntegrityError:
            earlier = _submitted(requester, new.submission_token)
            if earlier is None:
                raise
            return earlier, None  # a racing post of the same form committed first
    opened = _event(
        case,
        EventKind.OPENED,
        new.opened_by or requester,
        public=True,
        body=case.description,
        new_value=case.priority.name,
        unverified_sender=new.unverified_sender,
    )
    _store_attachments(case, opened, new.attachments, new.opened_by or requester, public=True)
    _schedule_deadlines(case, deadlines, previous=None)
    if case.after_hours_alarm:
        _raise_after_hours_alarm(case)
    if new.confirm:
        from casedesk.cases import tasks

        tasks.send_case_confirmation.enqueue(case.pk)
    return case, opened


def _submitted(requester: User, token: str) -> Case | None:
    return Case.objects.filter(requester=requester, submission_token=token).first()


def _raise_after_hours_alarm(case: Case) -> None:
    """Record and announce a case that became critical while support is closed (the caller
    has set ``after_hours_alarm`` and saved the case)."""
    _event(
        case,
        EventKind.AFTER_HOURS_CRITICAL,
        None,
        public=False,
        body=(
            "Critical case outside support hours: the on-call engineer must respond "
            f"within {humanize_duration(case.response_target)}."
        ),
    )
    transaction.on_commit(
        lambda: critical_case_opened_after_hours.send(sender=Case, case=case), robust=True
    )


def record_event(
    case: Case,
    kind: str,
    body: str,
    *,
    by: User | None = None,
    at: datetime | None = None,
    public: bool = False,
) -> Event:
    """An entry on the timeline from another app (on-call pages, notifications and
    acknowledgements); it changes nothing else about the case."""
    if kind not in EventKind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    return _event(case, kind, by, public=public, body=body, at=at or timezone.now())


# ---- Replies and notes --------------------------------------------------------------


@transaction.atomic
def add_reply(
    case: Case,
    author: User,
    body: str,
    *,
    public: bool = True,
    attachments: Sequence[UploadedFile] = (),
    status: str | None = None,
    at: datetime | None = None,
    unverified_sender: bool = False,
) -> Event:
    """A public reply (customers see it) or, with ``public=False``, an internal note.

    - The first public reply by support stops the first-response clock.
    - A customer's reply to a case pending on them reopens it (the resolution
      clock resumes); to a resolved case, reopens it. A closed case takes no replies.
    - Support may set the status in the same step (reply and set "pending customer").
    - ``unverified_sender``: a reply by mail whose sender could not be verified
      (mail/process.py); the timeline marks it.
    """
    case = _locked(case)
    text = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not text and not attachments:
        errors["body"] = ["Write a reply or attach a file."]
    elif len(text) > BODY_MAX:
        errors["body"] = ["The reply is too long."]
    if author.is_customer:
        if not public:
            errors.setdefault("", []).append("Customers cannot write internal notes.")
        if status is not None:
            errors.setdefault("", []).append("Customers cannot set the status.")
    elif status is not None and status not in Status.values:
        errors["status"] = [f"Unknown status {status!r}."]
    if case.status == Status.CLOSED:
        errors.setdefault("", []).append(
            f"{case.reference} is closed; open a new case and mention {case.reference}."
        )
    try:
        files.check(attachments)
    except files.AttachmentRejected as exc:
        errors.setdefault("attachments", []).append(str(exc))
    if errors:
        raise CaseError(errors)

    now = at or timezone.now()
    previous = _snapshot(case)
    kind = EventKind.REPLY if public else EventKind.NOTE
    event = _event(
        case, kind, author, public=public, body=text, at=now, unverified_sender=unverified_sender
    )
    _store_attachments(case, event, attachments, author, public=public)

    if author.is_vendor_staff:
        if public and case.first_responded_at is None:
            case.first_responded_at = now
        target = status or (Status.OPEN if case.status == Status.NEW else None)
        if target is not None and target != case.status:
            _set_status(case, target, author, now=now, reason="")
    elif case.status in (Status.PENDING, Status.RESOLVED):
        _set_status(case, Status.OPEN, author, now=now, reason="The customer replied.")
    _save_with_deadlines(case, previous)

    from casedesk.cases import tasks

    if public:
        tasks.notify_reply.enqueue(event.pk)
    return event


@transaction.atomic
def call_connected(case: Case, engineer: User, body: str, *, at: datetime | None = None) -> Event:
    """The emergency line connected the caller with an engineer who accepted the call.

    A connected call is a human response to the customer, as a public reply is: the first
    one stops the first-response clock (its warning and breach tasks find it answered, and
    the on-call clock alarms count it, see ``oncall.services.case_answered``) and opens a
    new case. The event is public: the customer sees that they spoke with support.
    """
    case = _locked(case)
    _require_staff(engineer)
    now = at or timezone.now()
    previous = _snapshot(case)
    event = _event(case, EventKind.CALL, engineer, public=True, body=body.strip(), at=now)
    if case.first_responded_at is None:
        case.first_responded_at = now
    if case.status == Status.NEW:
        _set_status(case, Status.OPEN, engineer, now=now, reason="")
    _save_with_deadlines(case, previous)
    return event


def add_note(case: Case, author: User, body: str, **kwargs: object) -> Event:
    return add_reply(case, author, body, public=False, **kwargs)  # type: ignore[arg-type]


def system_note(case: Case, body: str, *, at: datetime | None = None) -> Event:
    """An internal note written by casedesk itself (a channel saying what it did or
    could not do); it changes no status and stops no clock."""
    return record_event(case, EventKind.NOTE, body.strip(), at=at)


# ---- Status, priority, assignment ----------------------------------------------------


@transaction.atomic
def change_status(case: Case, status: str, by: User, reason: str = "") -> Case:
    case = _locked(case)
    _require_staff(by)
    if status not in Status.values:
        raise CaseError.on("status", f"Unknown status {status!r}.")
    if status == case.status:
        return case
    if case.status == Status.CLOSED:
        raise CaseError.on("status", f"{case.reference} is closed; closed cases stay closed.")
    previous = _snapshot(case)
    _set_status(case, status, by, now=timezone.now(), reason=reason.strip())
    _save_with_deadlines(case, previous)
    return case


def _set_status(case: Case, status: str, by: User | None, *, now: datetime, reason: str) -> None:
    """Move the status and its clocks; the caller recomputes the deadlines and saves.

    The resolution clock stands still while the case waits on the customer and while it
    is resolved: a customer who reopens a case ten days later has not made support ten
    days late. (``paused_since`` marks the first only: "pending customer" on the desk.)
    """
    old = case.status
    if old in PAUSED_STATUSES:
        Pause.objects.filter(case=case, ended_at__isnull=True).update(ended_at=now)
    if status in PAUSED_STATUSES:
        Pause.objects.create(case=case, kind=status, started_at=now)
    case.paused_since = (case.paused_since or now) if status == Status.PENDING else None
    if status in DONE_STATUSES and case.resolved_at is None:
        case.resolved_at = now
    if status in ACTIVE_STATUSES:
        case.resolved_at = None
    if status == Status.CLOSED:
        case.closed_at = now
    case.status = status
    _event(
        case,
        EventKind.STATUS,
        by,
        public=True,
        old_value=old,
        new_value=status,
        reason=reason,
        at=now,
    )


@transaction.atomic
def change_priority(
    case: Case,
    priority: Priority,
    by: User,
    reason: str,
    *,
    characteristics: str = "",
    business_impact: str = "",
) -> Case:
    """Move a case to another priority; due times are recomputed from the case's start."""
    case = _locked(case)
    _require_staff(by)
    _require_not_closed(case)
    reason = (reason or "").strip()
    if not reason:
        raise CaseError.on("reason", "Say why the priority changes; the customer sees it.")
    if priority.pk == case.priority_id:
        raise CaseError.on("priority", f"{case.reference} is already {priority.name}.")
    was_critical = case.priority.is_critical
    previous = _snapshot(case)
    old_name = case.priority.name
    case.take_targets(priority)
    if priority.is_critical:
        case.characteristics = _normalize_characteristics(characteristics) or case.characteristics
        case.business_impact = business_impact.strip() or case.business_impact
    kind = EventKind.DOWNGRADE if was_critical and not priority.is_critical else EventKind.PRIORITY
    raised_after_hours = (
        priority.is_critical
        and not was_critical
        and case.is_active
        and not sla.is_support_open(timezone.now())
    )
    # Off the after-hours list when no longer critical; on it when raised while closed.
    case.after_hours_alarm = priority.is_critical and (case.after_hours_alarm or raised_after_hours)
    _event(case, kind, by, public=True, old_value=old_name, new_value=priority.name, reason=reason)
    _save_with_deadlines(case, previous)
    if raised_after_hours:
        _raise_after_hours_alarm(case)
    return case


@transaction.atomic
def downgrade(case: Case, priority: Priority, by: User, reason: str) -> Case:
    """A critical case that does not meet the definition moves down; the customer sees why.

    Downgrades are counted per organization (``downgrades_of``).
    """
    case = _locked(case)  # judge the priority it has now, not the caller's copy
    if not case.priority.is_critical:
        raise CaseError.on("priority", f"{case.reference} is not critical.")
    if priority.is_critical:
        raise CaseError.on("priority", "Choose a priority below Critical.")
    return change_priority(case, priority, by, reason)


def default_priority() -> Priority:
    """The priority of a case from a channel that cannot ask (email, chat): the one marked
    default, else the lowest."""
    found = (
        Priority.objects.filter(is_default=True).first()
        or Priority.objects.order_by("-position").first()
    )
    if found is None:
        raise CaseError.on("", "No priorities are defined; add them in the admin.")
    return found


def downgrades_of(organization: Organization) -> int:
    return Event.objects.filter(kind=EventKind.DOWNGRADE, case__organization=organization).count()


@transaction.atomic
def assign(case: Case, assignee: User | None, by: User) -> Case:
    case = _locked(case)
    _require_staff(by)
    _require_not_closed(case)
    if assignee is not None and (not assignee.is_active or assignee.role == Role.CUSTOMER):
        raise CaseError.on("assignee", "Cases go to active agents or admins only.")
    if (assignee.pk if assignee else None) == case.assignee_id:
        return case
    old = case.assignee.email if case.assignee else ""
    case.assignee = assignee
    case.save(update_fields=["assignee", "updated_at"])
    _event(
        case,
        EventKind.ASSIGNMENT,
        by,
        public=False,
        old_value=old,
        new_value=assignee.email if assignee else "",
    )
    return case


@transaction.atomic
def attach(case: Case, uploads: Sequence[UploadedFile], by: User, *, public: bool = True) -> Event:
    """Files on their own (without a reply)."""
    case = _locked(case)
    if by.is_customer and not public:
        raise CaseError.on("", "Customers cannot attach internal files.")
    try:
        files.check(uploads)
    except files.AttachmentRejected as exc:
        raise CaseError.on("attachments", str(exc)) from exc
    if not uploads:
        raise CaseError.on("attachments", "Choose a file to attach.")
    event = _event(
        case,
        EventKind.ATTACHMENT,
        by,
        public=public,
        body=", ".join(files.clean_name(u.name or "") for u in uploads),
    )
    _store_attachments(case, event, uploads, by, public=public)
    return event


def _store_attachments(
    case: Case, event: Event, uploads: Sequence[UploadedFile], by: User, *, public: bool
) -> list[Attachment]:
    """Write the files and their rows; if a row cannot be written, no file stays behind.

    (A rollback of the caller's transaction after this returns leaves the files on
    disk without rows; ``tasks.delete_orphan_files`` removes those.)
    """
    stored: list[Attachment] = []
    try:
        for upload in uploads:
            name = files.clean_name(upload.name or "")
            attachment = Attachment(
                case=case,
                event=event,
                name=name,
                size=upload.size or 0,
                content_type=files.content_type_for(name),
                uploaded_by=by,
                public=public,
            )
            attachment.file.save(name, upload, save=False)
            stored.append(attachment)
            attachment.save()
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return stored


def _require_not_closed(case: Case) -> None:
    if case.status == Status.CLOSED:
        raise CaseError.on("", f"{case.reference} is closed; closed cases stay as they are.")


def _require_staff(person: User) -> None:
    if not person.is_vendor_staff:
        raise CaseError.on("", "Only support staff can do that.")


# ---- Deadlines ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    """The deadlines before a change, to schedule tasks only for those that moved."""

    first_response_due: datetime | None
    resolution_due: datetime | None
    active: bool


def _snapshot(case: Case) -> _Snapshot:
    return _Snapshot(case.first_response_due, case.resolution_due, case.is_active)


def _apply_deadlines(case: Case) -> sla.Deadlines:
    """Recompute both deadlines from the start, and the queue's ``next_due``."""
    deadlines = sla.deadlines(case, sla.pauses_of(case) if case.pk else [])
    case.first_response_due = deadlines.first_response_due
    case.resolution_due = deadlines.resolution_due
    case.next_due = next_due(case)
    return deadlines


def _save_with_deadlines(case: Case, previous: _Snapshot) -> None:
    """Recompute the deadlines, save the case, and schedule the deadlines that moved."""
    deadlines = _apply_deadlines(case)
    case.save()
    _schedule_deadlines(case, deadlines, previous)


def next_due(case: Case) -> datetime | None:
    if not case.is_active:
        return None
    running = []
    if case.first_responded_at is None:
        running.append(case.first_response_due)
    if case.resolution_due is not None:
        running.append(case.resolution_due)
    return min(running) if running else None


def _schedule_deadlines(case: Case, deadlines: sla.Deadlines, previous: _Snapshot | None) -> None:
    """Enqueue the warning and breach tasks of each deadline that is new or moved."""
    from casedesk.cases import tasks

    if not case.is_active:
        return
    now = timezone.now()
    plan: list[tuple[str, datetime | None, datetime | None, datetime | None]] = []
    if case.first_responded_at is None:
        plan.append(
            (
                SlaNotice.Target.FIRST_RESPONSE,
                deadlines.first_response_due,
                deadlines.first_response_warning,
                previous.first_response_due if previous and previous.active else None,
            )
        )
    plan.append(
        (
            SlaNotice.Target.RESOLUTION,
            deadlines.resolution_due,
            deadlines.resolution_warning,
            previous.resolution_due if previous and previous.active else None,
        )
    )
    for target, due, warning, before in plan:
        if due is None or due == before:
            continue
        # A warning instant already past (a priority change moved the deadline closer) is
        # due at once; the task sends nothing if this clock was warned of before.
        if warning is not None and due > now:
            tasks.check_sla.using(run_after=max(warning, now)).enqueue(
                case.pk, target, SlaNotice.Stage.WARNING, due.isoformat()
            )
        tasks.check_sla.using(run_after=due).enqueue(
            case.pk, target, SlaNotice.Stage.BREACH, due.isoformat()
        )


def cases_due_by(instant: datetime) -> QuerySet[Case]:
    """Active cases with a deadline at or before ``instant`` (the sweep's query)."""
    return Case.objects.filter(status__in=ACTIVE_STATUSES, next_due__lte=instant)
