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
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Max
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
    InboundSms,
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
# The promise: a human response within 2 hours. A live page takes new cases only while
# one of its cases is still inside this window (so its alarms are still to come); after
# that it expires and the next critical case opens a page of its own.
RESPONSE_WINDOW = timedelta(hours=2)
# (Alarms configured later than that keep the page live until they have run.)
_ALARM_SLACK = timedelta(minutes=5)
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
    if live is not None and expired(live, now):
        _resolve(live)  # its cases' windows are over: this case gets a page of its own
        live = None
    if live is not None:
        PageCase.objects.create(page=live, case=case, joined_at=now)
        _schedule_clock_alarms(live, case)
        if live.status == PageStatus.ACKNOWLEDGED or _chain_done(live):
            _announce_join(live, case, now)
        else:
            case_services.record_event(
                case,
                EventKind.PAGED,
                f"Joined page {live.code}, open for {case.organization.name} since "
                f"{live.opened_at:%H:%M} UTC: its escalation, still running, names this case "
                "too.",
                at=now,
            )
        return live
    with transaction.atomic():
        new = Page.objects.create(organization=case.organization, policy=policy, opened_at=now)
        PageCase.objects.create(page=new, case=case, joined_at=now)
    steps = schedules.steps_of(policy)
    # Empty steps move on at once, so the chain reaches the first step with somebody now.
    if any(schedules.step_targets(step, now) for step in steps):
        case_services.record_event(
            case,
            EventKind.PAGED,
            f"Page {new.code} opened: paging the on-call engineer ({policy.name} policy).",
            at=now,
        )
    else:
        # No "paged" event: the customer is not told that someone was paged.
        case_services.record_event(
            case,
            EventKind.PAGE_NOTIFICATION,
            f"Page {new.code} opened, but nobody is on call in any step of the "
            f"{policy.name} policy: the admins are mailed.",
            at=now,
        )
    tasks.escalate.enqueue(new.pk, 0)
    _schedule_clock_alarms(new, case)
    return new


def _chain_done(page_row: Page) -> bool:
    return PageStep.objects.filter(page=page_row, key="exhausted").exists()


def expired(page_row: Page, now: datetime) -> bool:
    """A live page whose newest case joined more than the 2-hour window ago (every alarm
    of its cases is done) and whose escalation is over (acknowledged or exhausted): it
    takes no new case and the sweep resolves it."""
    newest = PageCase.objects.filter(page=page_row).aggregate(m=Max("joined_at"))["m"]
    last_alarm = timedelta(minutes=max(settings.ONCALL_CLOCK_ALARMS, default=0))
    if now - (newest or page_row.opened_at) < max(RESPONSE_WINDOW, last_alarm + _ALARM_SLACK):
        return False
    return page_row.status == PageStatus.ACKNOWLEDGED or _chain_done(page_row)


def _announce_join(page_row: Page, case: Case, now: datetime) -> None:
    """A case joins an acknowledged page (or one whose chain ran out): tell whoever
    acknowledged it (or else the page's current level) about this case, at once."""
    who = page_row.acknowledged_by if page_row.status == PageStatus.ACKNOWLEDGED else None
    if who is not None and who.is_active:
        people = [who]
    else:
        steps = schedules.steps_of(page_row.policy)
        people = (
            schedules.step_targets(steps[min(page_row.level, len(steps) - 1)], now) if steps else []
        )
    claim = PageStep.objects.create(
        page=page_row, key=f"join:{case.pk}", level=page_row.level, at=now
    )
    queued = _notify(page_row, claim, people, [case], always=True, case=case)
    claim.outcome = ", ".join(p.email for p in people)[:200] or "nobody on call"
    claim.save(update_fields=["outcome"])
    if queued:
        names = ", ".join(p.full_name or p.email for p in people)
        state = (
            f"acknowledged at {page_row.acknowledged_at:%H:%M} UTC"
            if page_row.acknowledged_at
            else "its escalation over"
        )
        case_services.record_event(
            case,
            EventKind.PAGED,
            f"Joined page {page_row.code} ({state}): {names} told about this case now.",
            at=now,
        )


def clock_start(case: Case) -> datetime:
    """Where a case's 60/90-minute alarms count from: when it became critical after hours
    (its opening, or a later raise to critical), never before it opened."""
    raised = (
        case.events.filter(kind=EventKind.AFTER_HOURS_CRITICAL)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    return max(case.opened_at, raised) if raised is not None else case.opened_at


def _schedule_clock_alarms(page_row: Page, case: Case) -> None:
    from casedesk.oncall import tasks

    start = clock_start(case)
    for minutes in settings.ONCALL_CLOCK_ALARMS:
        tasks.clock_alarm.using(run_after=start + timedelta(minutes=minutes)).enqueue(
            page_row.pk, case.pk, minutes
        )


# ---- Escalation ---------------------------------------------------------------------


def _cases_of(page_row: Page) -> list[Case]:
    return list(
        Case.objects.filter(page_link__page=page_row).select_related("organization", "priority")
    )


def case_answered(case: Case) -> bool:
    """The case had its first human response since it became critical after hours (or is
    no longer active). A case answered in hours and raised to critical at night is not
    answered until someone replies to the customer again."""
    if case.status not in ACTIVE_STATUSES:
        return True
    if not case.priority.is_critical:
        # An agent lowered it (a downgrade, or a call marked non-emergency): the 2-hour
        # promise is for critical cases, so nobody else needs waking for it.
        return True
    if case.first_responded_at is None:
        return False
    start = clock_start(case)
    if case.first_responded_at >= start:
        return True
    # A public reply, or a call the emergency line connected (cases.services.call_connected).
    return case.events.filter(
        kind__in=[EventKind.REPLY, EventKind.CALL],
        public=True,
        at__gte=start,
        author__role__in=[Role.AGENT, Role.ADMIN],
    ).exists()


def _all_answered(cases: list[Case]) -> bool:
    return all(case_answered(c) for c in cases)


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
    now = timezone.now()
    if not steps or number >= len(steps) * passes:
        return _exhausted(page_row, cases, now)
    step = steps[number % len(steps)]
    try:
        with transaction.atomic():
            claim = PageStep.objects.create(
                page=page_row, key=str(number), level=number % len(steps), at=now
            )
    except IntegrityError:
        return "done before"
    people = schedules.step_targets(step, now)
    queued = _notify(page_row, claim, people, cases, always=False)
    page_row.level = max(page_row.level, claim.level)
    page_row.save(update_fields=["level"])
    claim.outcome = ", ".join(p.email for p in people) or "nobody on call"
    claim.save(update_fields=["outcome"])
    # An empty step (nobody on call, no fallback) moves on at once rather than wait.
    delay = step.delay if queued else timedelta(0)
    tasks.escalate.using(run_after=now + delay).enqueue(page_row.pk, number + 1)
    return f"step {number}: {claim.outcome}"


def _exhausted(page_row: Page, cases: list[Case], now: datetime) -> str:
    """Every step of every pass ran and nobody acknowledged: the admins hear at once."""
    from casedesk.oncall import tasks

    try:
        with transaction.atomic():
            PageStep.objects.create(
                page=page_row, key="exhausted", level=page_row.level, at=now, outcome="admins"
            )
    except IntegrityError:
        return "done before"
    for case in cases:
        case_services.record_event(
            case,
            EventKind.PAGE_NOTIFICATION,
            f"Page {page_row.code}: the whole escalation chain ran and nobody acknowledged: "
            "the admins are mailed.",
            at=now,
        )
    tasks.mail_admins_unreachable.enqueue(page_row.pk, "nobody acknowledged the whole chain")
    return "done: chain exhausted, admins mailed"


@transaction.atomic
def clock_alarm(page_id: int, case_id: int, minutes: int) -> str:
    """``minutes`` after a case became critical without a response: the policy's next level
    hears, about this case only."""
    from casedesk.oncall import tasks

    page_row = Page.objects.select_for_update().select_related("policy").filter(pk=page_id).first()
    case = Case.objects.filter(pk=case_id).select_related("organization").first()
    if page_row is None or case is None:
        return "stale: gone"
    if case_answered(case):
        if page_row.is_live and _all_answered(_cases_of(page_row)):
            _resolve(page_row)  # every case on it answered: the page is done
        return "stale: answered"
    due = clock_start(case) + timedelta(minutes=minutes)
    if timezone.now() < due:
        # Run early (a clock skew, a raise to critical moved the start): run again when due.
        tasks.clock_alarm.using(run_after=due).enqueue(page_id, case_id, minutes)
        return "early: queued again for its instant"
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
    _notify(page_row, claim, people, [case], always=True, minutes=minutes, case=case)
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
    case: Case | None = None,
) -> int:
    """Queue each person's notifications; returns how many were queued. A person whose
    rules name only SMS or calls and who has no phone number is mailed instead; a step
    that reaches nobody mails the admins. Both are recorded on the cases' timelines."""
    from casedesk.oncall import tasks

    what = f"{minutes}-minute alarm" if minutes else f"step {claim.key}"
    queued = 0
    for person in people:
        rules = rules_of(person)
        usable = [(c, d) for c, d in rules if c == Channel.EMAIL or person.phone]
        if not usable:
            usable = [(Channel.EMAIL, timedelta(0))]
            channels = " and ".join(sorted({Channel(c).label for c, _ in rules}))
            for each in cases:
                case_services.record_event(
                    each,
                    EventKind.PAGE_NOTIFICATION,
                    f"Page {page_row.code}, {what}: {person.full_name or person.email} has no "
                    f"phone number for {channels}: paged by email instead.",
                    at=claim.at,
                )
        for channel, delay in usable:
            due = claim.at + delay
            notification = Notification.objects.create(
                page=page_row,
                step=claim,
                person=person,
                channel=channel,
                due_at=due,
                always=always,
                case=case,
            )
            tasks.send_notification.using(run_after=due).enqueue(notification.pk)
            queued += 1
    if not queued:
        for each in cases:
            case_services.record_event(
                each,
                EventKind.PAGE_NOTIFICATION,
                f"Page {page_row.code}, {what}: nobody is on call and there is no fallback: "
                "the admins are mailed.",
                at=claim.at,
            )
        tasks.mail_admins_unreachable.enqueue(page_row.pk, f"nobody is on call for {what}")
    return queued


def _resolve(page_row: Page) -> None:
    page_row.status = PageStatus.RESOLVED
    page_row.resolved_at = timezone.now()
    page_row.save(update_fields=["status", "resolved_at"])
    Notification.objects.filter(page=page_row, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.CANCELLED
    )


def resolve_answered_pages() -> int:
    """Resolve every live page all of whose cases have had a first response (or closed),
    and expire those whose cases' 2-hour windows are all over (their alarms are done)."""
    resolved = 0
    now = timezone.now()
    for page_id in Page.objects.filter(status__in=LIVE_PAGE_STATUSES).values_list("pk", flat=True):
        with transaction.atomic():
            page_row = Page.objects.select_for_update().get(pk=page_id)
            if page_row.is_live and (_all_answered(_cases_of(page_row)) or expired(page_row, now)):
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
    "phone": "accepting the emergency line's call",
    "api": "the API",
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
    """The notification a signed acknowledgement token names; None if forged, expired or
    its person deactivated."""
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=settings.ONCALL_ACK_LINK_LIFETIME)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), int):
        return None
    # A link in a deactivated person's inbox or phone acknowledges nothing any more.
    return (
        Notification.objects.select_related("page", "page__organization", "person")
        .filter(pk=data["n"], person__is_active=True)
        .first()
    )


def ack_url(notification: Notification) -> str:
    return settings.BASE_URL + reverse("oncall:ack", args=[ack_token(notification)])


def voice_url(notification: Notification) -> str:
    return settings.BASE_URL + reverse("oncall:voice", args=[ack_token(notification)])


# ---- SMS replies (issue 7 routes /phone/sms here) -----------------------------------

ACK_WORDS = {"1", "ACK"}
_WORD_RE = re.compile(r"[A-Z0-9]+")


def receive_sms(sid: str, from_number: str, body: str) -> str | None:
    """A signed SMS webhook: store it under its ``MessageSid``, then answer it.

    ``None`` for a SID already received (a replayed request, or Twilio's retry): nothing
    is acknowledged again and nothing is answered. The row and the acknowledgement
    commit together, so a failure half-way leaves the SID free for Twilio's retry."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = InboundSms.objects.create(
                    sid=sid, from_number=(from_number or "")[:32], body=(body or "")[:1600]
                )
        except IntegrityError:
            logger.warning("SMS %s from %s is a replay: ignored", sid[:64], from_number[:32])
            return None
        answer = handle_sms_reply(from_number, body, received_at=row.received_at)
        InboundSms.objects.filter(pk=row.pk).update(answer=answer[:400])
    return answer


def handle_sms_reply(from_number: str, body: str, *, received_at: datetime | None = None) -> str:
    """An SMS from an on-call person: ``1`` or ``ACK``, with the page's code when they
    have several open pages. Returns the text to answer with ("" for a stranger).

    Written as people write at 3 a.m.: punctuation is ignored ("Ack."), and a second
    word counts as a code only if it is the code of one of their pages ("ACK omw",
    "1 thanks" and "ACK SURE" acknowledge their one open page). A phone shared by
    several people (a team's on-call phone) acknowledges as the one paged on it.

    An SMS answers what its sender had been told when it arrived (``received_at``,
    default now): a page counts only if one of its notifications to these people was
    sent before that, and a bare ``ACK`` only one sent to this number (SMS or voice), so
    a reply is never taken for a page opened after it."""
    number = normalize_phone(from_number or "")
    if not E164_RE.fullmatch(number):
        return ""  # not a phone number: nothing to look up
    people = list(
        User.objects.filter(phone=number, is_active=True, role__in=[Role.AGENT, Role.ADMIN])
    )
    if not people:
        return ""  # not one of ours: say nothing to an unknown number
    words = _WORD_RE.findall((body or "")[:200].upper())[:3]
    if not words or words[0] not in ACK_WORDS:
        return (
            "Reply 1 or ACK to acknowledge your page (ACK and the page's code if you have several)."
        )
    arrived = received_at or timezone.now()
    told = Notification.objects.filter(
        person__in=people, status=NotificationStatus.SENT, sent_at__lte=arrived
    )
    open_pages = list(
        Page.objects.filter(status=PageStatus.OPEN, pk__in=told.values("page"))
        .select_related("organization")
        .order_by("opened_at")
    )
    second = words[1] if len(words) > 1 else ""
    if second and second not in {p.code for p in open_pages}:
        earlier = (
            Page.objects.filter(code=second, pk__in=told.values("page"))
            .select_related("acknowledged_by")
            .first()
        )
        if earlier is not None:
            return _not_open(earlier)
        if len(open_pages) > 1 and CODE_RE.fullmatch(second):
            return f"No open page {second} for you. Open pages: {_list(open_pages)}."
        second = ""  # "ACK omw", "1 thanks": words, not a code
    if second:
        chosen = next(p for p in open_pages if p.code == second)
    else:
        # Without a code: only the pages this phone itself was texted or called about.
        by_phone = set(
            told.filter(channel__in=[Channel.SMS, Channel.VOICE]).values_list("page", flat=True)
        )
        open_pages = [p for p in open_pages if p.pk in by_phone]
        if len(open_pages) > 1:
            return (
                f"You have {len(open_pages)} open pages: {_list(open_pages)}. "
                "Reply ACK and the code."
            )
        if not open_pages:
            return "No open page for you to acknowledge."
        chosen = open_pages[0]
    # Of the people on this phone, the one paged for it most recently acknowledges.
    notified = (
        Notification.objects.filter(page=chosen, person__in=people)
        .order_by("-due_at", "-pk")
        .select_related("person")
        .first()
    )
    person = notified.person if notified is not None else people[0]
    acked = acknowledge(chosen, person, "sms")
    if not acked.acknowledged_now:
        return _not_open(acked.page)
    return f"Acknowledged page {chosen.code} ({chosen.organization.name}). Thank you."


def _not_open(page_row: Page) -> str:
    if page_row.status == PageStatus.RESOLVED:
        return f"Page {page_row.code} is closed: its cases were answered or its window is over."
    who = page_row.acknowledged_by
    by = f" by {who.full_name or who.email}" if who is not None else ""
    return f"Page {page_row.code} was already acknowledged{by}."


def _list(pages: list[Page]) -> str:
    return ", ".join(f"{p.code} ({p.organization.name})" for p in pages)
