"""Escalation steps, clock alarms and notification sends, each a task for its instant.

The periodic ``sweep_pages`` is the safety net: it pages a critical after-hours case
whose signal was lost (a crash between the case's commit and the page), and
resolves pages whose cases all have their first response.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task

from casedesk.accounts.models import Role, User
from casedesk.accounts.services import zone_of
from casedesk.cases import services as case_services
from casedesk.cases.models import ACTIVE_STATUSES, Case, Event, EventKind
from casedesk.core.mail import mail_each_admin, send_templated
from casedesk.core.periodic import periodic
from casedesk.core.retry import PermanentError, RetryableError, RetryPolicy, retrying
from casedesk.core.tasks import still_queued
from casedesk.oncall import schedules, services
from casedesk.oncall.models import (
    Channel,
    Notification,
    NotificationStatus,
    Page,
    PageStatus,
    PageStep,
    Schedule,
)
from casedesk.oncall.notifiers import Message, notifier_for

logger = logging.getLogger("casedesk.oncall")

# Pages go ahead of everything else in the queue (mails, sweeps): django-tasks-db's
# workers take the highest priority first. A page waits behind no confirmation mail.
PAGING_PRIORITY = 50

# A page is urgent: try again soon (+10 s, +20 s, +40 s, +80 s), then give up; the
# next escalation step goes out regardless.
_SEND_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=10), factor=2.0)
# A critical case whose page never opened (a lost signal) is paged by the sweep while
# its 2-hour promise can still be kept.
SWEEP_LOOKBACK = timedelta(hours=2)


# A step or alarm that hits a database error (a lock, a dropped connection) runs again
# soon; its claim (PageStep) makes a repeat harmless. The sweep re-arms any step still lost.
_STEP_RETRY = RetryPolicy(
    max_attempts=6,
    first_delay=timedelta(seconds=5),
    factor=2.0,
    retry_on=(OperationalError, InterfaceError, RetryableError),
)
# The sweep re-queues an open page's next step once it is this late (its task was lost).
STEP_GRACE = timedelta(minutes=2)


@task(priority=PAGING_PRIORITY, queue_name="critical")
@retrying(_STEP_RETRY)
def escalate(page_id: int, number: int) -> str:
    return services.escalate(page_id, number)


@task(priority=PAGING_PRIORITY, queue_name="critical")
@retrying(_STEP_RETRY)
def clock_alarm(page_id: int, case_id: int, minutes: int) -> str:
    return services.clock_alarm(page_id, case_id, minutes)


@task(priority=PAGING_PRIORITY, queue_name="critical")
@retrying()
def mail_admins_unreachable(page_id: int, reason: str) -> int:
    """A step reached nobody or the chain ran out: every active admin is mailed at once."""
    page = Page.objects.select_related("organization").filter(pk=page_id).first()
    if page is None:
        return 0
    cases = list(Case.objects.filter(page_link__page=page).order_by("opened_at"))
    return mail_each_admin(
        "oncall/email/unreachable",
        {"page": page, "cases": cases, "reason": reason},
        f"of page {page.code}",
        per_admin=lambda admin: {"zone": zone_of(admin)},
    )


@task(priority=PAGING_PRIORITY, queue_name="critical")
@retrying(_SEND_RETRY)
def send_notification(notification_id: int) -> str:
    """Hand one notification to its transport, unless an acknowledgement made it moot."""
    notification = (
        Notification.objects.select_related("page", "page__organization", "person", "step", "case")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.status != NotificationStatus.PENDING:
        return "stale"
    page = notification.page
    # An acknowledgement makes escalation sends moot; an answer to the customer (the page
    # resolved, or the one case an alarm is about answered) makes every send moot.
    if (
        page.status == PageStatus.RESOLVED
        or (not notification.always and page.status != PageStatus.OPEN)
        or (notification.always and _answered(notification))
    ):
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.PENDING).update(
            status=NotificationStatus.CANCELLED
        )
        return f"cancelled: page {page.status}"
    Notification.objects.filter(pk=notification.pk).update(attempts=F("attempts") + 1)
    attempt = notification.attempts + 1
    message = build_message(notification)
    try:
        external_id = notifier_for(notification.channel).send(message)
    except PermanentError as exc:
        _finish(notification, NotificationStatus.FAILED, error=str(exc))
        return f"failed: {exc}"
    except RetryableError as exc:
        if attempt >= _SEND_RETRY.max_attempts:
            # The last try: no retry follows, so the failure goes on the timeline now.
            _finish(
                notification,
                NotificationStatus.FAILED,
                error=f"gave up after {attempt} attempts: {exc}",
            )
            return f"failed after {attempt} attempts: {exc}"
        Notification.objects.filter(pk=notification.pk).update(error=str(exc)[:1000])
        raise
    _finish(notification, NotificationStatus.SENT, external_id=external_id)
    return f"sent {notification.channel}"


def _finish(
    notification: Notification, status: str, *, external_id: str = "", error: str = ""
) -> None:
    now = timezone.now()
    with transaction.atomic():
        changed = Notification.objects.filter(
            pk=notification.pk, status=NotificationStatus.PENDING
        ).update(status=status, sent_at=now, external_id=external_id, error=error[:1000])
        if not changed:
            return
        person = notification.person
        who = person.full_name or person.email
        address = person.email if notification.channel == Channel.EMAIL else person.phone
        label = Channel(notification.channel).label
        if status == NotificationStatus.SENT:
            body = f"Page {notification.page.code}: {label} to {who} ({address}) sent."
        else:
            body = f"Page {notification.page.code}: {label} to {who} failed: {error}"
        if _is_alarm(notification):
            body += " (2-hour clock alarm: sent even though the page was acknowledged.)"
        elif notification.case_id is not None:
            body += " (this case joined the acknowledged page.)"
        # An alarm or a join notice is about one case: it goes on that case's timeline only.
        cases = (
            Case.objects.filter(pk=notification.case_id)
            if notification.case_id is not None
            else Case.objects.filter(page_link__page=notification.page_id)
        )
        for case in cases:
            case_services.record_event(case, EventKind.PAGE_NOTIFICATION, body, at=now)


def _is_alarm(notification: Notification) -> bool:
    return notification.always and notification.step.key.startswith("clock")


def _answered(notification: Notification) -> bool:
    case = notification.case
    if case is None:
        return services.answered(notification.page)
    return services.case_answered(case)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# What an SMS page may be at most: two concatenated SMS segments of 160. The signed
# acknowledgement link is never cut; the organization's name and the case's subject
# give way (the subject first) when the rest leaves no room for them.
SMS_BUDGET = 320
_SUBJECT_MOST = 60
_ORGANIZATION_MOST = 40
# Said first when a case on the page came by mail whose sender SPF, DKIM and DMARC could
# not vouch for: whoever is woken checks with the customer before acting on it.
UNVERIFIED_SMS = " (SENDER NOT VERIFIED)"


def _clip(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    return text[: most - 1] + "\u2026" if most > 0 else ""


def _sms_text(
    head: str, organization: str, reference: str, subject: str, tail: str, budget: int
) -> str:
    """``head organization reference “subject”tail`` in at most ``budget`` characters
    if cutting the organization and the subject can make it so (see SMS_BUDGET)."""
    organization, subject = _one_line(organization), _one_line(subject)
    # The fixed parts: head, tail, the reference, its quotes and three spaces.
    room = budget - len(head) - len(tail) - len(reference) - (2 if reference else 0) - 3
    most_org = min(len(organization), _ORGANIZATION_MOST)
    most_subject = min(len(subject), _SUBJECT_MOST) if reference else 0
    excess = most_org + most_subject - max(room, 0)
    if excess > 0:  # the subject gives way first, down to nothing, then the name
        cut = min(excess, most_subject)
        most_subject -= cut
        most_org = max(most_org - (excess - cut), 0)
    named = f" {_clip(organization, most_org)}" if most_org else ""
    case = ""
    if reference:
        quoted = f" \u201c{_clip(subject, most_subject)}\u201d" if most_subject else ""
        case = f" {reference}{quoted}"
    return f"{head}{named}{case}{tail}"


def build_message(notification: Notification) -> Message:
    page = notification.page
    person = notification.person
    if notification.case is not None:  # an alarm or a join notice names its own case only
        cases = [notification.case]
    else:
        cases = list(
            Case.objects.filter(page_link__page=page).select_related("priority", "requester")
        )
    first = cases[0] if cases else None
    zone = zone_of(person)
    opened = first.opened_at.astimezone(zone).strftime("%H:%M %Z") if first else ""
    more = f" (+{len(cases) - 1} more)" if len(cases) > 1 else ""
    is_alarm = _is_alarm(notification)
    joined = notification.case_id is not None and not is_alarm
    alarm = "NO RESPONSE YET: " if is_alarm else ("NEW CASE on your page: " if joined else "")
    unverified = any(case.unverified_sender for case in cases)
    # A page in hours (an unassigned critical case, `casedesk oncall page`) is no less
    # urgent, but must not claim that support is closed.
    after_hours = not cases or any(case.after_hours_alarm for case in cases)
    when = "Critical after hours" if after_hours else "Critical in hours"
    ack = services.ack_url(notification)
    text = _sms_text(
        f"casedesk {alarm}CRITICAL{UNVERIFIED_SMS if unverified else ''}",
        page.organization.name,
        first.reference if first else "",
        first.subject if first else "",
        f"{more}, opened {opened}. Reply 1 or ACK {page.code}, or: {ack}",
        SMS_BUDGET,
    )
    channel = notification.channel
    to = person.email if channel == Channel.EMAIL else person.phone
    return Message(
        channel=channel,
        to=to,
        name=person.full_name or person.email,
        text=text,
        subject=(
            f"{alarm}{when}{' (sender not verified)' if unverified else ''}: "
            f"{page.organization.name} page {page.code}"
        ),
        ack_url=ack,
        voice_url=services.voice_url(notification),
        context={
            "page": page,
            "cases": cases,
            "person": person,
            "ack_url": ack,
            "alarm": is_alarm,
            "joined": joined,
            "unverified": unverified,
            "after_hours": after_hours,
            "base_url": settings.BASE_URL,
            "zone": zone,
        },
    )


@periodic(every=timedelta(minutes=1))
@task(queue_name="critical")
def sweep_pages() -> str:
    """Page any recent critical after-hours case left without a page (and, if configured,
    an in-hours critical case nobody took); resolve answered pages."""
    since = timezone.now() - SWEEP_LOOKBACK
    # Recent by when it became critical after hours: opened so, or raised to it since.
    raised = Event.objects.filter(kind=EventKind.AFTER_HOURS_CRITICAL, at__gte=since)
    missed = Case.objects.filter(
        Q(opened_at__gte=since) | Q(pk__in=raised.values("case_id")),
        after_hours_alarm=True,
        status__in=ACTIVE_STATUSES,
        first_responded_at__isnull=True,
        page_link__isnull=True,
    ).select_related("organization")
    if settings.ONCALL_PAGE_UNASSIGNED_MINUTES:
        # Critical cases opened in hours that nobody took: page them too (if configured).
        waited = timezone.now() - timedelta(minutes=settings.ONCALL_PAGE_UNASSIGNED_MINUTES)
        missed = missed | Case.objects.filter(
            priority__is_critical=True,
            assignee__isnull=True,
            status__in=ACTIVE_STATUSES,
            first_responded_at__isnull=True,
            opened_at__gte=since,
            opened_at__lte=waited,
            page_link__isnull=True,
        )
    paged = 0
    for case in missed.select_related("organization"):
        if services.page(case) is not None:
            paged += 1
    if paged:
        logger.warning("page sweep paged %d case(s) whose signal was lost", paged)
    rearmed = rearm_lost_steps()
    if rearmed:
        logger.warning("page sweep re-armed %d escalation step(s) whose task was lost", rearmed)
    return f"paged {paged}, re-armed {rearmed}, resolved {services.resolve_answered_pages()}"


def _pending_steps() -> set[tuple[int, int]]:
    """(page id, step number) of every escalation task still queued, or running within
    its time budget (one RUNNING longer was lost with its worker: re-arm it)."""
    pending = set()
    for args_kwargs in still_queued(escalate).values_list("args_kwargs", flat=True):
        args = (args_kwargs or {}).get("args") or []
        if len(args) == 2 and all(isinstance(a, int) for a in args):
            pending.add((args[0], args[1]))
    return pending


def rearm_lost_steps() -> int:
    """Queue again the next step of every open page that is overdue by ``STEP_GRACE`` with
    no task for it (a step that failed every retry, a task row lost). The step's claim
    makes a duplicate harmless.

    A handful of queries whatever the number of open pages (it runs on the critical lane
    every minute: one query per page made it take seconds with hundreds open)."""
    now = timezone.now()
    pending = _pending_steps()
    pages = list(Page.objects.filter(status=PageStatus.OPEN).select_related("policy"))
    claims: dict[int, dict[str, tuple[datetime, int]]] = {page.pk: {} for page in pages}
    for page_id, key, at, page_step_pk in PageStep.objects.filter(
        page__in=[page.pk for page in pages]
    ).values_list("page_id", "key", "at", "pk"):
        claims[page_id][key] = (at, page_step_pk)
    last = {
        page_id: max((int(key) for key in keys if key.isdigit()), default=None)
        for page_id, keys in claims.items()
    }
    last_steps = [claims[pid][str(n)][1] for pid, n in last.items() if n is not None]
    reached = set(
        Notification.objects.filter(step__in=last_steps).values_list("step_id", flat=True)
    )
    steps_by_policy: dict[int | None, list[Any]] = {}
    rearmed = 0
    for page in pages:
        if page.policy_id not in steps_by_policy:
            steps_by_policy[page.policy_id] = schedules.steps_of(page.policy)
        steps = steps_by_policy[page.policy_id]
        if not steps or "exhausted" in claims[page.pk]:
            continue
        number = last[page.pk]
        if number is None:
            number, due = 0, page.opened_at
        else:
            at, step_pk = claims[page.pk][str(number)]
            due = at + (steps[number % len(steps)].delay if step_pk in reached else timedelta(0))
            number += 1
        if now - due < STEP_GRACE or (page.pk, number) in pending:
            continue
        escalate.enqueue(page.pk, number)
        rearmed += 1
    return rearmed


# How far ahead the weekly mail looks: every gap is reported at least a week before it.
GAP_HORIZON = timedelta(days=14)


@periodic(every=timedelta(days=7))
@task()
def mail_schedule_gaps() -> int:
    """Tell the admins about stretches in the next two weeks where a layer has nobody."""
    from casedesk.oncall.schedules import schedule_gaps

    now = timezone.now()
    found = [
        (schedule, gap)
        for schedule in Schedule.objects.select_related("fallback")
        for gap in schedule_gaps(schedule, now, now + GAP_HORIZON)
    ]
    if not found:
        return 0
    admins = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk")
    for admin in admins:
        send_templated(
            "oncall/email/gaps",
            {
                "gaps": found,
                "recipient": admin,
                "base_url": settings.BASE_URL,
                "zone": zone_of(admin),
            },
            [admin.email],
        )
    return len(found)
