"""The call flow: each Twilio webhook is one function that moves the ``Call`` row on and
returns the TwiML the caller (or the engineer) hears next.

State lives in the ``Call`` and ``Leg`` rows, never in URLs: every webhook URL is a
fixed path, and the step a request may take is checked against ``Call.stage`` (a
forged or replayed request for another stage changes nothing). Each step locks its
call row, so two requests about one call never interleave.

1. ``incoming``: the greeting from the business clock, one digit.
2. ``menu``: 1 goes on; anything else (or nothing) repeats the menu, 3 times at most.
3. ``identify`` / ``account``: the organization by the calling number, else by the
   account number keyed in (3 tries).
4. ``emergency``: open (or join) a critical phone case and note the call on it. After
   hours, an organization without coverage hears so and may leave a message.
5. ``_dial``: ``Dial`` the next person of the default escalation policy
   (``schedules.responders``, in order) with a whisper: they hear who calls and press 1.
   ``dialed`` (the Dial's action) moves on after no answer, busy, refusal or a machine;
   an action naming an earlier leg (a retry, a replay) changes nothing. Nobody with a
   phone to dial: straight to 6.
6. ``voicemail``: nobody accepted: the case is paged (idempotent; in hours this opens
   the page that after hours already exists), or, when no page can go out (no
   coverage, no policy), the agents are mailed; the caller hears which, and leaves a
   message. The recording is fetched into a case attachment (``recordings``).
Status callbacks and finished recordings are in ``callbacks``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

from casedesk.accounts.models import ACCOUNT_NUMBER_RE, E164_RE, Organization, Role, User
from casedesk.accounts.services import organization_for_account_number, organization_for_phone
from casedesk.cases import services as case_services
from casedesk.cases.models import ACTIVE_STATUSES, Case, Channel, EventKind, Priority
from casedesk.core import ratelimit
from casedesk.hours.services import current_calendar, status
from casedesk.oncall import schedules
from casedesk.oncall import services as oncall
from casedesk.oncall.models import PageCase, PageStatus
from casedesk.phone import policies, speech
from casedesk.phone.models import Call, CallOutcome, Leg, LegOutcome, Stage

logger = logging.getLogger("casedesk.phone")

MENU_TRIES = 3
ACCOUNT_TRIES = 3
GATHER_SECONDS = 8
WHISPER_SECONDS = 10

# The fixed webhook paths (urls.py names them the same).
VOICE = "/phone/voice"
MENU = "/phone/voice/menu"
ACCOUNT = "/phone/voice/account"
DIALED = "/phone/voice/dialed"
WHISPER = "/phone/voice/whisper"
ACCEPT = "/phone/voice/accept"
RECORDED = "/phone/voice/recorded"
RECORDING = "/phone/voice/recording"
STATUS = "/phone/voice/status"
LEG_STATUS = "/phone/voice/leg"

# DialCallStatus -> what happened to the engineer's leg (when the whisper said nothing).
DIAL_OUTCOMES = {
    "no-answer": LegOutcome.NO_ANSWER,
    "busy": LegOutcome.BUSY,
    "failed": LegOutcome.FAILED,
    "canceled": LegOutcome.CANCELED,
    # Answered and hung up without pressing 1 (or a machine that played its greeting).
    "completed": LegOutcome.REFUSED,
    "answered": LegOutcome.REFUSED,
}


@dataclass(frozen=True)
class Incoming:
    call_sid: str
    from_number: str
    to_number: str


def _absolute(path: str) -> str:
    """The public URL of one of our webhook paths: Twilio resolves a root-relative URL
    against the request's host only, which loses a path prefix in ``CASEDESK_BASE_URL``
    (``https://example.com/desk``), so every URL we hand Twilio is absolute."""
    return settings.BASE_URL + path


def _say(response: VoiceResponse, text: str) -> None:
    response.say(text, voice="Polly.Joanna", language="en-US")


def _end(response: VoiceResponse, call: Call, text: str, outcome: str | None = None) -> None:
    _say(response, text)
    response.hangup()
    call.stage = Stage.DONE
    if outcome is not None and call.outcome == CallOutcome.IN_PROGRESS:
        call.outcome = outcome


def locked(sid: str) -> Call | None:
    """The call with this CallSid, locked for the transaction (every step takes it first)."""
    return Call.objects.select_for_update().filter(sid=sid).first()


def _wrong_stage(call: Call | None, sid: str, step: str) -> VoiceResponse:
    """A request for a step the call is not at (a replay, a forged path, a lost call)."""
    logger.warning("phone: %s for call %s in stage %s ignored", step, sid[:64], call and call.stage)
    response = VoiceResponse()
    response.hangup()
    return response


# ---- 1, 2: the greeting and the menu ------------------------------------------------


def _gather(
    response: VoiceResponse, action: str, prompt: str, *, digits: int = 1, seconds: int = 0
) -> None:
    """Ask for keys; Twilio posts to ``action`` even when none was pressed."""
    gather = response.gather(
        num_digits=digits,
        action=_absolute(action),
        method="POST",
        timeout=seconds or GATHER_SECONDS,
        action_on_empty_result=True,
        **({"finish_on_key": "#"} if digits > 1 else {}),
    )
    gather.say(prompt, voice="Polly.Joanna", language="en-US")


def _menu(response: VoiceResponse) -> None:
    _gather(response, MENU, speech.greeting(status(current_calendar())))


@transaction.atomic
def incoming(data: Incoming) -> VoiceResponse:
    call, created = Call.objects.select_for_update().get_or_create(
        sid=data.call_sid,
        defaults={"from_number": data.from_number, "to_number": data.to_number},
    )
    response = VoiceResponse()
    if not created and call.stage != Stage.MENU:
        return _wrong_stage(call, data.call_sid, "incoming")
    _menu(response)
    return response


@transaction.atomic
def menu(sid: str, digits: str) -> VoiceResponse:
    call = locked(sid)
    if call is None or call.stage != Stage.MENU:
        return _wrong_stage(call, sid, "menu")
    response = VoiceResponse()
    if digits == "1":
        identify(call, response)
    else:
        call.menu_attempts += 1
        if call.menu_attempts >= MENU_TRIES:
            _end(
                response,
                call,
                "We did not get a choice. For anything that is not an emergency, please use "
                "chat, the portal or email. Goodbye.",
                CallOutcome.MENU,
            )
        else:
            _say(response, "Sorry, that is not an option." if digits else "We did not hear a key.")
            _menu(response)
    call.save()
    return response


# ---- 3: who is calling --------------------------------------------------------------


def _ask_account(response: VoiceResponse, prompt: str) -> None:
    _gather(response, ACCOUNT, prompt, digits=12)


# Wrong account numbers count per calling number (withheld numbers share one key) and
# for the whole line; only wrong ones (a right one is refunded).
LINE_KEY = "line"


def _number_key(call: Call) -> str:
    return f"number:{call.from_number or 'withheld'}"


def _guessing(call: Call) -> bool:
    """Whether this call's number, or the line, has used up its wrong account numbers."""
    return not (
        ratelimit.check(policies.ACCOUNT_TRIES_PER_NUMBER, _number_key(call)).allowed
        and ratelimit.check(policies.ACCOUNT_TRIES_ON_THE_LINE, LINE_KEY).allowed
    )


def _too_many_tries(call: Call, response: VoiceResponse) -> None:
    logger.warning(
        "phone: call %s from %s: too many wrong account numbers (rate policies %s, %s); "
        "caller sent to the portal",
        call.sid,
        call.from_number or "a withheld number",
        policies.ACCOUNT_TRIES_PER_NUMBER.name,
        policies.ACCOUNT_TRIES_ON_THE_LINE.name,
    )
    _end(
        response,
        call,
        "We cannot take more account numbers from this line right now. Please open a "
        "critical case in the portal, or by email with the word critical in the subject. "
        "Goodbye.",
        CallOutcome.UNIDENTIFIED,
    )


def identify(call: Call, response: VoiceResponse) -> None:
    organization = (
        organization_for_phone(call.from_number) if E164_RE.fullmatch(call.from_number) else None
    )
    if organization is not None:
        emergency(call, organization, response)
        return
    if _guessing(call):
        _too_many_tries(call, response)
        return
    call.stage = Stage.ACCOUNT
    _ask_account(
        response,
        "We do not recognise the number you are calling from. Please key in your account "
        "number, then press the pound key.",
    )


@transaction.atomic
def account(sid: str, digits: str) -> VoiceResponse:
    call = locked(sid)
    if call is None or call.stage != Stage.ACCOUNT:
        return _wrong_stage(call, sid, "account")
    response = VoiceResponse()
    digits = digits.rstrip("#")
    # Counted before the look-up (parallel calls cannot all pass), refunded when right.
    tries = (
        ratelimit.attempt(policies.ACCOUNT_TRIES_PER_NUMBER, _number_key(call)),
        ratelimit.attempt(policies.ACCOUNT_TRIES_ON_THE_LINE, LINE_KEY),
    )
    if not all(decision.allowed for decision in tries):
        _too_many_tries(call, response)
        call.save()
        return response
    organization = (
        organization_for_account_number(digits) if ACCOUNT_NUMBER_RE.fullmatch(digits) else None
    )
    if organization is not None:
        ratelimit.refund(policies.ACCOUNT_TRIES_PER_NUMBER, _number_key(call))
        ratelimit.refund(policies.ACCOUNT_TRIES_ON_THE_LINE, LINE_KEY)
        emergency(call, organization, response)
    else:
        call.account_attempts += 1
        if call.account_attempts >= ACCOUNT_TRIES:
            _end(
                response,
                call,
                "We could not find that account number. Please open a critical case in the "
                "portal or by email with the word critical in the subject. Goodbye.",
                CallOutcome.UNIDENTIFIED,
            )
        else:
            _ask_account(response, "We could not find that account number. Please key it in again.")
    call.save()
    return response


# ---- 4: the case ---------------------------------------------------------------------


def _caller(call: Call, organization: Organization) -> User | None:
    """The customer of the organization whose phone number is calling, if one is."""
    if not E164_RE.fullmatch(call.from_number):
        return None
    return (
        User.objects.filter(
            phone=call.from_number, organization=organization, role=Role.CUSTOMER, is_active=True
        )
        .order_by("date_joined", "pk")
        .first()
    )


# The organization's stand-in requester when it has no active customer: a deactivated
# contact (it cannot log in and is never mailed) at a reserved domain that cannot reach
# anyone (RFC 2606 ``.invalid``).
LINE_CONTACT_EMAIL = "emergency-line-{pk}@phone.invalid"


def _contact(organization: Organization) -> User:
    """A calling number names an organization, not a person: the case goes to the
    organization's first contact (its longest-standing active customer); an
    organization without one gets its emergency-line contact, made once."""
    active = (
        User.objects.filter(organization=organization, role=Role.CUSTOMER, is_active=True)
        .order_by("date_joined", "pk")
        .first()
    )
    if active is not None:
        return active
    email = LINE_CONTACT_EMAIL.format(pk=organization.pk)
    contact = User.objects.filter(email=email).first()
    if contact is None:
        # The organization's row is locked (``_open_or_join``): no concurrent twin.
        contact = User.objects.create_user(
            email,
            role=Role.CUSTOMER,
            organization=organization,
            full_name=f"{organization.name} (emergency line)"[:200],
            is_active=False,
        )
        logger.info("phone: %s has no active contact; made %s", organization.name, email)
    return contact


def _open_or_join(call: Call, organization: Organization, now: datetime) -> Case | None:
    """The organization's critical phone case of the last 2 hours (a dropped call, a
    colleague calling about the same outage), else a new one."""
    line = f"Emergency call from {call.from_number or 'an unknown number'} (call {call.sid})."
    # One case per outage: two calls at once wait here for each other, so the second
    # finds the first one's case (a lock on the call rows alone lets both open one).
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    recent = (
        Case.objects.filter(
            organization=organization,
            channel=Channel.PHONE,
            priority__is_critical=True,
            status__in=ACTIVE_STATUSES,
            opened_at__gte=now - oncall.RESPONSE_WINDOW,
        )
        .order_by("-opened_at")
        .first()
    )
    if recent is not None:
        case_services.record_event(recent, EventKind.CALL, f"Another {line[0].lower()}{line[1:]}")
        return recent
    critical = Priority.objects.filter(is_critical=True).order_by("position").first()
    if critical is None:
        logger.error(
            "phone: call %s from %s: no case opened (no critical priority)",
            call.sid,
            organization.name,
        )
        return None
    requester = call.caller or _contact(organization)
    local = now.astimezone(current_calendar().zone)
    case = case_services.open_case(
        case_services.NewCase(
            requester=requester,
            organization=organization,
            subject=f"Emergency call from {organization.name}",
            priority=critical,
            channel=Channel.PHONE,
            description=(
                f"{organization.name} called the emergency line from "
                f"{call.from_number or 'an unknown number'} at {local:%A %H:%M %Z} and pressed 1 "
                "(production use stopped). Triage it: downgrade, or mark the call "
                "non-emergency, if it is not critical."
            ),
            opened_at=now,
        )
    )
    case_services.record_event(case, EventKind.CALL, line, at=now)
    return case


def emergency(call: Call, organization: Organization, response: VoiceResponse) -> None:
    now = timezone.now()
    call.organization = organization
    call.caller = _caller(call, organization)
    call.case = _open_or_join(call, organization, now)
    hours = status(current_calendar(), now)
    if not hours.open and not organization.after_hours_coverage:
        reopens = (
            speech.when(hours.next_open, now, hours.calendar.zone)
            if hours.next_open
            else "as soon as it can"
        )
        call.outcome = CallOutcome.NO_COVERAGE
        _say(
            response,
            f"{organization.name}'s support plan does not include after-hours support, so no "
            f"engineer can be reached now. Support reopens {reopens}.",
        )
        _record(
            call,
            response,
            "Please leave a message after the tone, and support will call "
            "you back when it opens. Press the pound key when you are done.",
        )
        return
    person = _next_person(call)
    if person is None:  # nobody with a phone to dial: straight to the message
        voicemail(call, response)
        return
    call.stage = Stage.DIALING
    _say(response, "Connecting you to the on-call engineer. Please stay on the line.")
    _dial(call, person, response)


# ---- 5: dialing engineers, one at a time ----------------------------------------------


def _next_person(call: Call) -> User | None:
    """The next person of the escalation policy with a phone, not tried on this call yet."""
    policy = schedules.default_policy()
    people = schedules.responders(policy) if policy is not None else []
    tried = set(call.legs.values_list("person_id", flat=True))
    return next((p for p in people if p.pk not in tried and E164_RE.fullmatch(p.phone or "")), None)


def _dial(call: Call, person: User, response: VoiceResponse) -> None:
    position = call.legs.count() + 1
    Leg.objects.create(call=call, position=position, person=person, number=person.phone)
    dial = response.dial(
        action=_absolute(DIALED),
        method="POST",
        timeout=settings.PHONE_DIAL_TIMEOUT,
        answer_on_bridge=True,
    )
    dial.number(
        person.phone,
        url=_absolute(WHISPER),
        method="POST",
        status_callback=_absolute(LEG_STATUS),
        status_callback_method="POST",
        status_callback_event="initiated ringing answered completed",
        machine_detection="Enable",
    )


def _latest_leg(call: Call) -> Leg | None:
    return Leg.objects.select_for_update().filter(call=call).order_by("-position").first()


@dataclass(frozen=True)
class Dialed:
    call_sid: str
    dial_status: str  # DialCallStatus (validated)
    dial_sid: str  # DialCallSid, may be ""
    dial_duration: int | None


@transaction.atomic
def dialed(data: Dialed) -> VoiceResponse:
    call = locked(data.call_sid)
    if call is None or call.stage != Stage.DIALING:
        return _wrong_stage(call, data.call_sid, "dialed")
    response = VoiceResponse()
    leg = _latest_leg(call)
    if _stale(leg, data.dial_sid):
        # A retried or replayed action about an earlier leg: the caller's live call is
        # in the Dial of the newest leg, so this request's answer is not played to
        # anyone; change nothing and answer nothing.
        logger.warning(
            "phone: dial action for leg %s of call %s ignored: the newest leg is %s",
            data.dial_sid,
            call.sid,
            leg.sid if leg is not None else None,
        )
        return VoiceResponse()
    now = timezone.now()
    if leg is not None:
        if data.dial_sid and not leg.sid:
            leg.sid = data.dial_sid
        if leg.outcome == LegOutcome.RINGING:
            leg.outcome = DIAL_OUTCOMES.get(data.dial_status, LegOutcome.FAILED)
        if data.dial_duration is not None:
            leg.duration_seconds = data.dial_duration
        leg.ended_at = leg.ended_at or now
        leg.save()
    if leg is not None and leg.outcome == LegOutcome.ACCEPTED:
        # The conversation took place and is over: nothing more to say.
        call.stage = Stage.DONE
        response.hangup()
    elif data.dial_status == "canceled":
        call.stage = Stage.DONE  # the caller hung up while it rang
        response.hangup()
    else:
        person = _next_person(call)
        if person is None:
            voicemail(call, response)
        else:
            _say(response, "The engineer could not take your call. Trying the next person.")
            _dial(call, person, response)
    call.save()
    return response


def _stale(leg: Leg | None, dial_sid: str) -> bool:
    """Whether a Dial action naming ``dial_sid`` is about another leg than the newest.

    Without a DialCallSid (Twilio sends none when no child call was made) the action is
    the newest leg's: it is the only Dial in progress."""
    if not dial_sid:
        return False
    if leg is None:
        return True
    if leg.sid:
        return leg.sid != dial_sid
    return Leg.objects.filter(sid=dial_sid).exists()  # names an earlier leg


@dataclass(frozen=True)
class LegRequest:
    call_sid: str  # the engineer's leg (child call)
    parent_sid: str
    digits: str = ""
    answered_by: str = ""


@transaction.atomic
def whisper(data: LegRequest) -> VoiceResponse:
    """The engineer answered: who is calling, press 1 to accept. A machine is hung up on."""
    response = VoiceResponse()
    call = locked(data.parent_sid)
    if call is None or call.stage != Stage.DIALING:
        return _wrong_stage(call, data.parent_sid, "whisper")
    leg = _latest_leg(call)
    if leg is None or (leg.sid and leg.sid != data.call_sid):
        return _wrong_stage(call, data.parent_sid, "whisper")
    if not leg.sid:
        if Leg.objects.filter(sid=data.call_sid).exclude(pk=leg.pk).exists():
            return _wrong_stage(call, data.parent_sid, "whisper")
        leg.sid = data.call_sid
    leg.answered_at = leg.answered_at or timezone.now()
    if data.answered_by.startswith("machine") or data.answered_by == "fax":
        leg.outcome = LegOutcome.MACHINE
        leg.save()
        response.hangup()
        return response
    leg.save()
    organization = call.organization.name if call.organization else "an unidentified caller"
    about = f", case {call.case.reference}" if call.case else ""
    _gather(
        response,
        ACCEPT,
        f"Critical call from {organization}{about}, on the {speech.site()} emergency line. "
        "Press 1 to accept.",
        seconds=WHISPER_SECONDS,
    )
    return response


@transaction.atomic
def accept(data: LegRequest) -> VoiceResponse:
    response = VoiceResponse()
    # The call first, then the leg: the order every step locks them in.
    parent = Leg.objects.filter(sid=data.call_sid).values_list("call__sid", flat=True).first()
    call = locked(parent) if parent else None
    leg = Leg.objects.select_for_update().filter(sid=data.call_sid).first()
    if (
        leg is None
        or call is None
        or call.stage != Stage.DIALING
        or leg.outcome != LegOutcome.RINGING
    ):
        return _wrong_stage(call, data.call_sid, "accept")
    if data.digits != "1":
        leg.outcome = LegOutcome.REFUSED
        leg.save()
        _say(response, "Not accepted. The caller goes to the next engineer. Goodbye.")
        response.hangup()
        return response
    now = timezone.now()
    leg.outcome = LegOutcome.ACCEPTED
    leg.answered_at = leg.answered_at or now
    leg.save()
    call.answered_by, call.answered_at, call.outcome = leg.person, now, CallOutcome.CONNECTED
    call.save()
    if call.case is not None and leg.person is not None:
        _connected(call.case, leg.person, call, now)
    _say(response, "Connecting you now.")
    return response


def _connected(case: Case, engineer: User, call: Call, now: datetime) -> None:
    """The first human response: the case's clock stops, and its page is acknowledged."""
    case_services.call_connected(
        case,
        engineer,
        f"{engineer.full_name or engineer.email} took the emergency call from "
        f"{call.from_number or 'an unknown number'}.",
        at=now,
    )
    link = PageCase.objects.filter(case=case).select_related("page").first()
    if link is not None and link.page.status == PageStatus.OPEN:
        oncall.acknowledge(link.page, engineer, "phone")


# ---- 6: voicemail --------------------------------------------------------------------


def _record(call: Call, response: VoiceResponse, prompt: str) -> None:
    call.stage = Stage.VOICEMAIL
    _say(response, prompt)
    response.record(
        action=_absolute(RECORDED),
        method="POST",
        max_length=settings.PHONE_RECORD_MAX_SECONDS,
        finish_on_key="#",
        play_beep=True,
        recording_status_callback=_absolute(RECORDING),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    # Twilio goes on here when nothing was recorded (it calls the action only with audio);
    # the call's end (its status callback) then records that no message was left.
    _say(response, "We did not record a message. Goodbye.")
    response.hangup()


def voicemail(call: Call, response: VoiceResponse) -> None:
    """Nobody accepted: page (a no-op after hours, where the case was paged when it opened)
    and take a message. What the caller is promised is what happened: a page, or (no
    page possible: no coverage, no policy) the agents told by mail."""
    page = oncall.page(call.case) if call.case is not None else None
    if page is not None:
        promise = "The on-call team has been paged and will call you back."
    else:
        logger.warning(
            "phone: call %s: nobody accepted and nobody could be paged; mailing the agents",
            call.sid,
        )
        from casedesk.phone import tasks

        tasks.notify_unpaged_call.enqueue(call.pk)  # commits with the call, as every task
        promise = (
            "Support has your case and will call you back."
            if call.case is not None
            else "Support has been told of your call."
        )
    _record(
        call,
        response,
        f"Nobody could take your call right now. {promise} Please leave a message after the "
        f"tone, up to {speech.minutes(settings.PHONE_RECORD_MAX_SECONDS)}, and press the "
        "pound key when you are done.",
    )


@dataclass(frozen=True)
class Recording:
    call_sid: str
    recording_sid: str
    url: str
    seconds: int | None
    status: str = "completed"


@transaction.atomic
def recorded(data: Recording) -> VoiceResponse:
    """The Record verb's action: the caller finished the message."""
    call = locked(data.call_sid)
    if call is None or call.stage != Stage.VOICEMAIL:
        return _wrong_stage(call, data.call_sid, "recorded")
    response = VoiceResponse()
    _end(
        response,
        call,
        "Thank you. Support has your message. Goodbye.",
        CallOutcome.VOICEMAIL,
    )
    call.save()
    return response
