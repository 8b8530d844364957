"""SLA deadline tasks, the safety-net sweep, and the mail a case sends.

Deadlines: ``services`` enqueues ``check_sla`` for the warning instant (75% of the
target) and for the due instant of each running clock, carrying the due
instant it was scheduled for. When it runs it re-reads the case under a lock:
if the clock stopped (answered, resolved, paused) or the due instant moved
(priority change, pause), the task is stale and does nothing; otherwise it
claims the deadline by inserting its ``SlaNotice`` (unique per deadline), so
two workers, a retry and the sweep can never act twice.
"""

from __future__ import annotations

import logging
import smtplib
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from casedesk.accounts.models import Role, User
from casedesk.accounts.services import zone_of
from casedesk.cases import sla
from casedesk.cases.models import (
    ACTIVE_STATUSES,
    Attachment,
    Case,
    Clock,
    Event,
    EventKind,
    SlaNotice,
    describe_target,
)
from casedesk.core.mail import send_templated
from casedesk.core.periodic import periodic
from casedesk.core.retry import RetryableError, RetryPolicy, retrying
from casedesk.lib.durations import humanize_duration

logger = logging.getLogger("casedesk.cases")

_MAIL_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30))


# ---- Deadlines --------------------------------------------------------------------


@task(queue_name="critical")
def check_sla(case_id: int, target: str, stage: str, due: str) -> str:
    """Act on one SLA deadline if it still stands; returns what it did (for logs and tests)."""
    return act_on_deadline(case_id, target, stage, datetime.fromisoformat(due))


@transaction.atomic
def act_on_deadline(case_id: int, target: str, stage: str, due: datetime) -> str:
    case = Case.objects.select_for_update().select_related("priority").filter(pk=case_id).first()
    if case is None:
        return "stale: case deleted"
    now = timezone.now()
    if case.status not in ACTIVE_STATUSES:
        return "stale: case no longer active"
    if target == SlaNotice.Target.FIRST_RESPONSE:
        if case.first_responded_at is not None:
            return "stale: answered"
        current: datetime | None = case.first_response_due
    elif target == SlaNotice.Target.RESOLUTION:
        if case.paused_since is not None:
            return "stale: paused"
        current = case.resolution_due
    else:
        raise ValueError(f"unknown SLA target {target!r}")
    if current != due:
        return "stale: due time moved"
    if stage == SlaNotice.Stage.BREACH and now < due:
        return "early: not due yet"
    if stage == SlaNotice.Stage.WARNING and now >= due:
        return "stale: already due"
    if (
        stage == SlaNotice.Stage.WARNING
        and SlaNotice.objects.filter(case=case, target=target, stage=stage).exists()
    ):
        # One warning per clock per case: after a pause or a priority change the new
        # deadline's 75% mark may already be behind us, and the agents heard once.
        return "done before: warned"
    try:
        with transaction.atomic():
            notice = SlaNotice.objects.create(case=case, target=target, stage=stage, due=due)
    except IntegrityError:
        return "done before"

    label = SlaNotice.Target(target).label.lower()
    if stage == SlaNotice.Stage.BREACH:
        flag = (
            "first_response_breached"
            if target == SlaNotice.Target.FIRST_RESPONSE
            else "resolution_breached"
        )
        setattr(case, flag, True)
        case.save(update_fields=[flag, "updated_at"])
        body = f"The {label} target of {case.priority.name} was missed."
        kind = EventKind.SLA_BREACH
    else:
        share = int(sla.WARNING_SHARE * 100)
        body = f"{share}% of the {label} target has run; {_left(case, now, due)}."
        kind = EventKind.SLA_WARNING
    Event.objects.create(case=case, kind=kind, public=False, body=body, new_value=target, at=now)
    notify_sla.enqueue(notice.pk)
    return f"{stage} {target}"


def _left(case: Case, now: datetime, due: datetime) -> str:
    """What is left on the priority's own clock: "6 business hours left", "29 minutes left"."""
    left = sla.clock_for(case.sla_clock).between(now, max(now, due))
    left -= left % timedelta(minutes=1)  # "5 hours 59 minutes", never "... 58 seconds"
    if case.sla_clock == Clock.BUSINESS and left >= timedelta(hours=1):
        return f"{describe_target(left, Clock.BUSINESS)} left"
    return f"{humanize_duration(left)} left"


@periodic(every=timedelta(minutes=5))
@task(queue_name="critical")
def sweep_sla_breaches() -> int:
    """The safety net: act on any deadline that passed without its task having run.

    Reads only active cases whose next deadline has passed (the queue index), never
    every open case.
    """
    from casedesk.cases.services import cases_due_by

    acted = 0
    now = timezone.now()
    overdue = cases_due_by(now).filter(
        first_response_breached=False, first_responded_at__isnull=True
    ) | cases_due_by(now).filter(resolution_breached=False, resolution_due__lte=now)
    for case in overdue.only("pk", "first_response_due", "resolution_due", "first_responded_at"):
        checks = []
        if case.first_responded_at is None and case.first_response_due <= now:
            checks.append((SlaNotice.Target.FIRST_RESPONSE, case.first_response_due))
        if case.resolution_due is not None and case.resolution_due <= now:
            checks.append((SlaNotice.Target.RESOLUTION, case.resolution_due))
        for target, due in checks:
            if act_on_deadline(case.pk, target, SlaNotice.Stage.BREACH, due).startswith("breach"):
                acted += 1
    if acted:
        logger.warning("SLA sweep acted on %d deadline(s) their tasks had missed", acted)
    return acted


# ---- Mail -------------------------------------------------------------------------


def send_case_mail(
    template: str,
    context: dict[str, object],
    to: list[str],
    zone: zoneinfo.ZoneInfo,
    *,
    case: Case | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Render and send; mail about a case carries a Message-ID that threads replies into it."""
    if case is not None:
        from casedesk.mail.outbound import thread_headers

        headers = {**thread_headers(case), **(headers or {})}
    context = {
        "base_url": settings.BASE_URL,
        "site_name": settings.OTP_TOTP_ISSUER,
        "support_email": settings.SUPPORT_EMAILS[0],
        "emergency_phone": settings.EMERGENCY_PHONE,
        **context,
    }
    try:
        with timezone.override(zone):
            send_templated(
                template,
                context,
                to,
                headers=headers,
                reply_to=[settings.SUPPORT_EMAILS[0]] if case is not None else None,
            )
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"could not send {template}: {exc}") from exc


@task()
@retrying(_MAIL_RETRY)
def send_case_confirmation(case_id: int, auto_reply: bool = False) -> None:
    """Tell the requester we have their case, when to expect an answer, and (after hours)
    exactly when support reopens, in their zone and the calendar's.

    ``auto_reply``: the answer to an email that opened the case, marked as RFC 3834
    asks (``Auto-Submitted: auto-replied``) so that other robots do not answer it.
    """
    from casedesk.cases.presenters import acknowledgement

    case = Case.objects.select_related("priority", "requester").filter(pk=case_id).first()
    if case is None or not case.requester.is_active:
        return
    zone = zone_of(case.requester)
    send_case_mail(
        "cases/email/case_opened",
        {"case": case, "ack": acknowledgement(case, zone)},
        [case.requester.email],
        zone,
        case=case,
        headers={"Auto-Submitted": "auto-replied"} if auto_reply else None,
    )


@task()
@retrying(_MAIL_RETRY)
def notify_reply(event_id: int) -> None:
    """A public reply reaches the other side: support's reply the requester, the
    customer's reply the assignee (if any)."""
    event = (
        Event.objects.select_related("case", "case__requester", "case__assignee", "author")
        .filter(pk=event_id, public=True)
        .first()
    )
    if event is None:
        return
    case = event.case
    if event.author is not None and event.author.is_vendor_staff:
        recipient: User | None = case.requester
    else:
        recipient = case.assignee
    if recipient is None or not recipient.is_active or recipient == event.author:
        return
    send_case_mail(
        "cases/email/reply",
        {"case": case, "event": event, "recipient": recipient},
        [recipient.email],
        zone_of(recipient),
        case=case,
    )


@task(queue_name="critical")
@retrying(_MAIL_RETRY)
def notify_sla(notice_id: int) -> None:
    """An SLA warning or breach goes to the assignee, or to every agent when unassigned."""
    notice = (
        SlaNotice.objects.select_related("case", "case__priority", "case__assignee")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None:
        return
    case = notice.case
    if case.assignee is not None and case.assignee.is_active:
        recipients = [case.assignee]
    else:
        recipients = list(
            User.objects.filter(role__in=[Role.AGENT, Role.ADMIN], is_active=True).order_by("pk")
        )
    for person in recipients:
        send_case_mail(
            "cases/email/sla_notice",
            {"case": case, "notice": notice, "recipient": person},
            [person.email],
            zone_of(person),
        )


# ---- Files ------------------------------------------------------------------------


@periodic(every=timedelta(days=1))
@task()
def delete_orphan_files() -> int:
    """Remove attachment files whose row never committed (a rolled-back transaction)."""
    root = Path(settings.MEDIA_ROOT) / "cases"
    if not root.is_dir():
        return 0
    known = set(Attachment.objects.values_list("file", flat=True))
    cutoff = timezone.now().timestamp() - 3600
    removed = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        name = path.relative_to(settings.MEDIA_ROOT).as_posix()
        if name not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
