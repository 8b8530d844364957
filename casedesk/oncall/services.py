"""Pages: open or join, escalate step by step, notify, acknowledge. Rules live here.

Every escalation step is a task scheduled for its instant (``tasks.escalate``).
Running it:

1. locks the page; a page that is acknowledged or resolved stops here (a step for
   an acknowledged page does nothing);
2. claims the step by inserting its ``PageStep`` (unique per page and step number),
   so a step run twice (a requeued task, two workers) acts once;
3. creates a ``Notification`` per person and channel (their rules: SMS at once, a
   call after 2 minutes, ...), enqueues each send for its instant, and enqueues the
   next step for ``now + delay`` -- all in the claim's transaction, so a crash
   before the commit leaves the step unclaimed (its task runs again) and a crash
   after it leaves the next step already queued: no step is skipped or repeated.

Sending is at least once: a worker killed between Twilio's answer and the row's
update sends that SMS again when the task is requeued (better twice than never).

The 2-hour clock: for each case on a page, alarms at 60 and 90 minutes after it
opened (``ONCALL_CLOCK_ALARMS``) notify the policy's next level even if the page
was acknowledged, unless the case has had its first response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from casedesk.accounts.models import E164_RE, Role, User, normalize_phone
from casedesk.cases import services as case_services
from casedesk.cases.models import ACTIVE_STATUSES, Case, EventKind
from casedesk.oncall import schedules
from casedesk.oncall.models import (
    CODE_RE,
    LIVE_PAGE_STATUSES,
    Channel,
    EscalationPolicy,
    Notification,
    NotificationRule,
    NotificationStatus,
    Page,
    PageCase,
    PageStatus,
    PageStep,
)

logger = logging.getLogger("casedesk.oncall")

ACK_SALT = "casedesk.oncall.ack"
# What a person without rules gets: SMS and mail at once, a call if nobody acknowledged
# after 2 minutes (issue 6's example).
DEFAULT_RULES: tuple[tuple[str, timedelta], ...] = (
    (Channel.SMS, timedelta(0)),
    (Channel.EMAIL, timedelta(0)),
    (Channel.VOICE, timedelta(minutes=2)),
)


# ---- Opening and joining ------------------------------------------------------------


def page(case: Case, policy: EscalationPolicy | None = None) -> Page | None:
    """Page the on-call team for ``case``, or join the organization's open page.

    Returns None when the organization has no after-hours coverage or no policy
    exists. Safe to call twice for one case (it is on one page at most).
    """
    if not case.organization.after_hours_coverage:
        return None
    policy = policy or schedules.default_policy()
    if policy is None:
        logger.error("no default escalation policy: %s was not paged", case.reference)
        return None
    for _ in range(3):
        try:
            return _open_or_join(case, policy)
        except IntegrityError:
            continue  # another process opened the organization's page first: join it
    raise RuntimeError(f"could not page for {case.reference}")


@transaction.atomic
def _open_or_join(case: Case, policy: EscalationPolicy) -> Page:
    from casedesk.oncall import tasks

    existing = PageCase.objects.filter(case=case).select_related("page").first()
    if existing is not None:
        return existing.page
    now = timezone.now()
    live = (
        Page.objects.select_for_update()
        .filter(organization=case.organization_id, status__in=LIVE_PAGE_STATUSES)
        .first()
    )
    if live is not None:
        PageCase.objects.create(page=live, case=case, joined_at=now)
        case_services.record_event(
            case,
            EventKind.PAGED,
            f"Joined page {live.code}, open for {case.organization.name} since "
            f"{live.opened_at:%H:%M} UTC: the on-call engineer already paged sees this case too.",
            at=now,
        )
        _schedule_clock_alarms(live, case)
        return live
    with transaction.atomic():
        new = Page.objects.create(organization=case.organization, policy=policy, opened_at=now)
        PageCase.objects.create(page=new, case=case, joined_at=now)
    case_services.record_event(
        case,
        EventKind.PAGED,
        f"Page {new.code} opened: paging the on-call engineer ({policy.name} policy).",
        at=now,
    )
    tasks.escalate.enqueue(new.pk, 0)
    _schedule_clock_alarms(new, case)
    return new


def _schedule_clock_alarms(page_row: Page, case: Case) -> None:
    from casedesk.oncall import tasks

    for minutes in settings.ONCALL_CLOCK_ALARMS:
        tasks.clock_alarm.using(run_after=case.opened_at + timedelta(minutes=minutes)).enqueue(
            page_row.pk, case.pk, minutes
        )


# ---- Escalation ---------------------------------------------------------------------


def _cases_of(page_row: Page) -> list[Case]:
    return list(
        Case.objects.filter(page_link__page=page_row).select_related("organization", "priority")
    )


def _all_answered(cases: list[Case]) -> bool:
    return all(c.first_responded_at is not None or c.status not in ACTIVE_STATUSES for c in cases)


def answered(page_row: Page) -> bool:
    """Every case on the page has had its first response (or is no longer active)."""
    return _all_answered(_cases_of(page_row))


@transaction.atomic
def escalate(page_id: int, number: int) -> str:
    """Run escalation step ``number`` (0, 1, ... across the repeats) of a page."""
    from casedesk.oncall import tasks

    page_row = Page.objects.select_for_update().select_related("policy").filter(pk=page_id).first()
    if page_row is None:
        return "stale: page deleted"
    if page_row.status != PageStatus.OPEN:
        return f"stale: {page_row.status}"
    cases = _cases_of(page_row)
    if _all_answered(cases):
        _resolve(page_row)
        return "stale: answered"
    steps = schedules.steps_of(page_row.policy)
    passes = page_row.policy.repeat + 1
    if not steps or number >= len(steps) * passes:
        return "done: chain exhausted"
    step = steps[number % len(steps)]
    now = timezone.now()
    try:
        with transaction.atomic():
            claim = PageStep.objects.create(
                page=page_row, key=str(number), level=number % len(steps), at=now
            )
    except IntegrityError:
        return "done before"
    people = schedules.step_targets(step, now)
    _notify(page_row, claim, people, cases, always=False)
    page_row.level = max(page_row.level, claim.level)
    page_row.save(update_fields=["level"])
    claim.outcome = ", ".join(p.email for p in people) or "nobody on call"
    claim.save(update_fields=["outcome"])
    # An empty step (nobody on call, no fallback) moves on at once rather than wait.
    delay = step.delay if people else timedelta(0)
    tasks.escalate.using(run_after=now + delay).enqueue(page_row.pk, number + 1)
    return f"step {number}: {claim.outcome}"


@transaction.atomic
def clock_alarm(page_id: int, case_id: int, minutes: int) -> str:
    """``minutes`` after a case opened without a response: the policy's next level hears."""
    page_row = Page.objects.select_for_update().select_related("policy").filter(pk=page_id).first()
    case = Case.objects.filter(pk=case_id).select_related("organization").first()
    if page_row is None or case is None:
        return "stale: gone"
    if case.first_responded_at is not None or case.status not in ACTIVE_STATUSES:
        if page_row.is_live and _all_answered(_cases_of(page_row)):
            _resolve(page_row)  # every case on it answered: the page is done
        return "stale: answered"
    if timezone.now() < case.opened_at + timedelta(minutes=minutes):
        return "early: not due yet"
    steps = schedules.steps_of(page_row.policy)
    if not steps:
        return "done: no steps"
    level = min(page_row.level + 1, len(steps) - 1)
    try:
        with transaction.atomic():
            claim = PageStep.objects.create(
                page=page_row, key=f"clock{minutes}:{case.pk}", level=level
            )
    except IntegrityError:
        return "done before"
    people = schedules.step_targets(steps[level], claim.at)
    _notify(page_row, claim, people, [case], always=True, minutes=minutes)
    page_row.level = max(page_row.level, level)
    page_row.save(update_fields=["level"])
    claim.outcome = ", ".join(p.email for p in people) or "nobody on call"
    claim.save(update_fields=["outcome"])
    return f"alarm {minutes}: {claim.outcome}"


def rules_of(person: User) -> list[tuple[str, timedelta]]:
    rules = [(r.channel, r.delay) for r in NotificationRule.objects.filter(person=person)]
    return rules or list(DEFAULT_RULES)


def _notify(
    page_row: Page,
    claim: PageStep,
    people: list[User],
    cases: list[Case],
    *,
    always: bool,
    minutes: int | None = None,
) -> None:
    from casedesk.oncall import tasks

    for person in people:
        for channel, delay in rules_of(person):
            if channel in (Channel.SMS, Channel.VOICE) and not person.phone:
                continue
            due = claim.at + delay
            notification = Notification.objects.create(
                page=page_row, step=claim, person=person, channel=channel, due_at=due, always=always
            )
            tasks.send_notification.using(run_after=due).enqueue(notification.pk)
    if not people:
        what = f"{minutes}-minute alarm" if minutes else f"step {claim.key}"
        for case in cases:
            case_services.record_event(
                case,
                EventKind.PAGE_NOTIFICATION,
                f"Page {page_row.code}, {what}: nobody is on call and there is no fallback.",
            )


def _resolve(page_row: Page) -> None:
    page_row.status = PageStatus.RESOLVED
    page_row.resolved_at = timezone.now()
    page_row.save(update_fields=["status", "resolved_at"])
    Notification.objects.filter(page=page_row, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.CANCELLED
    )


def resolve_answered_pages() -> int:
    """Resolve every live page all of whose cases have had a first response (or closed)."""
    resolved = 0
    for page_id in Page.objects.filter(status__in=LIVE_PAGE_STATUSES).values_list("pk", flat=True):
        with transaction.atomic():
            page_row = Page.objects.select_for_update().get(pk=page_id)
            if page_row.is_live and _all_answered(_cases_of(page_row)):
                _resolve(page_row)
                resolved += 1
    return resolved


# ---- Acknowledgement ----------------------------------------------------------------


@dataclass(frozen=True)
class Acked:
    page: Page
    acknowledged_now: bool  # False: someone had already acknowledged it


VIA_LABELS = {
    "link": "the link in a page",
    "sms": "SMS reply",
    "voice": "keypress in the call",
    "desk": "the desk",
}


@transaction.atomic
def acknowledge(page_row: Page, person: User, via: str) -> Acked:
    """Acknowledge a page: the escalation stops. Only the first acknowledgement counts."""
    if via not in VIA_LABELS:
        raise ValueError(f"unknown acknowledgement channel {via!r}")
    now = timezone.now()
    changed = Page.objects.filter(pk=page_row.pk, status=PageStatus.OPEN).update(
        status=PageStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=person,
        acknowledged_via=via,
    )
    page_row.refresh_from_db()
    if not changed:
        return Acked(page_row, False)
    Notification.objects.filter(
        page=page_row, status=NotificationStatus.PENDING, always=False
    ).update(status=NotificationStatus.CANCELLED)
    for case in _cases_of(page_row):
        case_services.record_event(
            case,
            EventKind.PAGE_ACKNOWLEDGED,
            f"Page {page_row.code} acknowledged by {person.full_name or person.email} "
            f"({VIA_LABELS[via]}). The 2-hour clock runs until the first reply to the customer.",
            by=person,
            at=now,
        )
    return Acked(page_row, True)


def ack_token(notification: Notification) -> str:
    return signing.dumps({"n": notification.pk}, salt=ACK_SALT, compress=True)


def notification_for_token(token: str) -> Notification | None:
    """The notification a signed acknowledgement token names; None if forged or expired."""
    try:
        data = signing.loads(
            token, salt=ACK_SALT, max_age=settings.ONCALL_ACK_LINK_LIFETIME
        )
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), int):
        return None
    return (
        Notification.objects.select_related("page", "page__organization", "person")
        .filter(pk=data["n"])
        .first()
    )


def ack_url(notification: Notification) -> str:
    return settings.BASE_URL + reverse("oncall:ack", args=[ack_token(notification)])


def voice_url(notification: Notification) -> str:
    return settings.BASE_URL + reverse("oncall:voice", args=[ack_token(notification)])


# ---- SMS replies (issue 7 routes /phone/sms here) -----------------------------------

ACK_WORDS = {"1", "ACK"}


def handle_sms_reply(from_number: str, body: str) -> str:
    """An SMS from an on-call person: ``1`` or ``ACK``, with the page's code when they
    have several open pages. Returns the text to answer with ("" for a stranger)."""
    number = normalize_phone(from_number or "")
    if not E164_RE.fullmatch(number):
        return ""  # not a phone number: nothing to look up
    people = list(
        User.objects.filter(phone=number, is_active=True, role__in=[Role.AGENT, Role.ADMIN])
    )
    if len(people) != 1:
        return ""  # not one of ours (or ambiguous): say nothing to an unknown number
    person = people[0]
    words = (body or "").upper().replace(",", " ").split()[:3]
    if not words or words[0] not in ACK_WORDS:
        return (
            "Reply 1 or ACK to acknowledge your page (ACK and the page's code if you have several)."
        )
    open_pages = list(
        Page.objects.filter(status=PageStatus.OPEN, notifications__person=person)
        .distinct()
        .select_related("organization")
        .order_by("opened_at")
    )
    code = words[1] if len(words) > 1 else ""
    if code and not CODE_RE.fullmatch(code):
        return f"{code[:8]!r} is not a page code: page codes are 4 letters and digits, e.g. K7QF."
    if code:
        chosen = [p for p in open_pages if p.code == code]
        if not chosen:
            live = Page.objects.filter(code=code, notifications__person=person).first()
            if live is not None and live.status != PageStatus.OPEN:
                return f"Page {code} was already acknowledged."
            return f"No open page {code} for you. Open pages: {_list(open_pages) or 'none'}."
    elif len(open_pages) > 1:
        return (
            f"You have {len(open_pages)} open pages: {_list(open_pages)}. Reply ACK and the code."
        )
    else:
        chosen = open_pages
    if not chosen:
        return "You have no open page to acknowledge."
    acked = acknowledge(chosen[0], person, "sms")
    if not acked.acknowledged_now:
        return f"Page {chosen[0].code} was already acknowledged."
    return f"Acknowledged page {chosen[0].code} ({chosen[0].organization.name}). Thank you."


def _list(pages: list[Page]) -> str:
    return ", ".join(f"{p.code} ({p.organization.name})" for p in pages)
