"""The emergency line's Twilio webhooks under /phone/: thin views over ``flow``.

Every view checks, in this order: POST only, a body no larger than a webhook's
(``MAX_BODY``), Twilio's signature (``oncall.views.twilio_signed``: 403 when bad or
missing, 503 without ``TWILIO_AUTH_TOKEN``), then its parameters (400 with the reason
for a missing or malformed ``CallSid``; a keypad entry that is not digits counts as a
wrong key, so the caller hears the menu again rather than an application error).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import VoiceResponse

from casedesk.accounts.models import E164_RE
from casedesk.oncall.views import twilio_signed
from casedesk.phone import callbacks, flow, progress

logger = logging.getLogger("casedesk.phone")

# A Twilio webhook's form is about 1-2 KB; anything far larger is not Twilio.
MAX_BODY = 16 * 1024
CALL_SID_RE = re.compile(r"CA[0-9A-Za-z]{8,62}")
RECORDING_SID_RE = re.compile(r"RE[0-9A-Za-z]{8,62}")
DIGITS_RE = re.compile(r"[0-9*#]{1,32}")
RECORDING_URL_RE = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?/[A-Za-z0-9/_.\-]{1,400}")
ANSWERED_BY_RE = re.compile(r"[a-z_]{1,32}")

View = Callable[..., HttpResponse]


class BadInput(ValueError):
    pass


def webhook(view: View) -> View:
    """POST, a webhook-sized body, Twilio's signature, then the view (400 on BadInput)."""

    @twilio_signed
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadInput as exc:
            logger.warning("phone webhook %s refused: %s", request.path, exc)
            return _text(str(exc), 400)

    @wraps(view)
    def sized(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY or len(request.body) > MAX_BODY:
            logger.warning("phone webhook %s refused: body over %d bytes", request.path, MAX_BODY)
            return _text("Request too large for a Twilio webhook.", 413)
        return checked(request, *args, **kwargs)

    return csrf_exempt(require_POST(sized))


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _empty() -> HttpResponse:
    return _twiml(VoiceResponse())


# ---- Parameters -----------------------------------------------------------------------


def _sid(
    request: HttpRequest, name: str = "CallSid", pattern: re.Pattern[str] = CALL_SID_RE
) -> str:
    value = request.POST.get(name, "")
    if not value:
        raise BadInput(f"{name} is missing.")
    if not pattern.fullmatch(value):
        raise BadInput(f"{name} is not a Twilio SID.")
    return value


def _number(request: HttpRequest, name: str) -> str:
    """An E.164 number, or "" for anything else (anonymous, restricted, garbage)."""
    value = request.POST.get(name, "").strip()
    return value if E164_RE.fullmatch(value) else ""


def _digits(request: HttpRequest) -> str:
    value = request.POST.get("Digits", "")
    return value if DIGITS_RE.fullmatch(value) else ""


def _seconds(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 7:
        raise BadInput(f"{name} is not a number of seconds.")
    return int(value)


def _sequence(request: HttpRequest) -> int | None:
    value = request.POST.get("SequenceNumber", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 6:
        raise BadInput("SequenceNumber is not a number.")
    return int(value)


def _status(request: HttpRequest, name: str = "CallStatus") -> str:
    value = request.POST.get(name, "")
    if value not in progress.STATUSES:
        raise BadInput(f"{name} {value[:20]!r} is not a Twilio call status.")
    return value


def _timestamp(request: HttpRequest) -> datetime:
    """Twilio's ``Timestamp`` (RFC 2822), else now."""
    value = request.POST.get("Timestamp", "")
    if value and len(value) < 64:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return timezone.now()


# ---- The caller's side ----------------------------------------------------------------


@webhook
def voice(request: HttpRequest) -> HttpResponse:
    return _twiml(
        flow.incoming(
            flow.Incoming(
                call_sid=_sid(request),
                from_number=_number(request, "From"),
                to_number=_number(request, "To"),
            )
        )
    )


@webhook
def menu(request: HttpRequest) -> HttpResponse:
    return _twiml(flow.menu(_sid(request), _digits(request)))


@webhook
def account(request: HttpRequest) -> HttpResponse:
    return _twiml(flow.account(_sid(request), _digits(request)))


@webhook
def dialed(request: HttpRequest) -> HttpResponse:
    dial_status = request.POST.get("DialCallStatus", "")
    if dial_status not in flow.DIAL_OUTCOMES:
        raise BadInput(f"DialCallStatus {dial_status[:20]!r} is not a Dial outcome.")
    dial_sid = request.POST.get("DialCallSid", "")
    return _twiml(
        flow.dialed(
            flow.Dialed(
                call_sid=_sid(request),
                dial_status=dial_status,
                dial_sid=dial_sid if CALL_SID_RE.fullmatch(dial_sid) else "",
                dial_duration=_seconds(request, "DialCallDuration"),
            )
        )
    )


@webhook
def recorded(request: HttpRequest) -> HttpResponse:
    return _twiml(flow.recorded(_recording(request)))


@webhook
def recording(request: HttpRequest) -> HttpResponse:
    callbacks.recording_ready(_recording(request))
    return _empty()


def _recording(request: HttpRequest) -> flow.Recording:
    url = request.POST.get("RecordingUrl", "")
    if not RECORDING_URL_RE.fullmatch(url):
        raise BadInput("RecordingUrl is missing or not a recording's address.")
    state = request.POST.get("RecordingStatus", "completed")
    if state not in {"in-progress", "completed", "absent", "failed"}:
        raise BadInput("RecordingStatus is not a recording status.")
    return flow.Recording(
        call_sid=_sid(request),
        recording_sid=_sid(request, "RecordingSid", RECORDING_SID_RE),
        url=url,
        seconds=_seconds(request, "RecordingDuration"),
        status=state,
    )


def _status_report(request: HttpRequest, *, leg: bool = False) -> callbacks.StatusReport:
    return callbacks.StatusReport(
        call_sid=_sid(request),
        status=_status(request),
        sequence=_sequence(request),
        duration=_seconds(request, "CallDuration"),
        at=_timestamp(request),
        parent_sid=_sid(request, "ParentCallSid") if leg else "",
        to_number=_number(request, "To") if leg else "",
    )


@webhook
def call_status(request: HttpRequest) -> HttpResponse:
    callbacks.call_status(_status_report(request))
    return _empty()


# ---- The engineer's side --------------------------------------------------------------


def _leg(request: HttpRequest, *, parent: bool = True) -> flow.LegRequest:
    answered_by = request.POST.get("AnsweredBy", "")
    if answered_by and not ANSWERED_BY_RE.fullmatch(answered_by):
        raise BadInput("AnsweredBy is not an answering-machine verdict.")
    return flow.LegRequest(
        call_sid=_sid(request),
        parent_sid=_sid(request, "ParentCallSid") if parent else "",
        digits=_digits(request),
        answered_by=answered_by,
    )


@webhook
def whisper(request: HttpRequest) -> HttpResponse:
    return _twiml(flow.whisper(_leg(request)))


@webhook
def accept(request: HttpRequest) -> HttpResponse:
    return _twiml(flow.accept(_leg(request, parent=False)))


@webhook
def leg_status(request: HttpRequest) -> HttpResponse:
    callbacks.leg_status(_status_report(request, leg=True))
    return _empty()
