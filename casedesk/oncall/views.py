"""What a paged person reaches without logging in: the signed acknowledgement link, the
voice call's keypress menu, the SMS reply webhook, and the iCalendar feeds.

Twilio's webhooks check ``X-Twilio-Signature`` (the ``twilio`` package's
``RequestValidator`` over the public URL from ``CASEDESK_BASE_URL``) before any
logic; a bad or missing signature is a 403 and a log line; no auth token: 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from casedesk.accounts.services import zone_of
from casedesk.cases.models import Case
from casedesk.oncall import feeds, services
from casedesk.oncall.models import (
    FEED_TOKEN_RE,
    MESSAGE_SID_RE,
    FeedToken,
    Notification,
    Schedule,
)

logger = logging.getLogger("casedesk.oncall")

# Said on the call when a case on the page came by mail whose sender could not be
# verified (SPF, DKIM, DMARC): the engineer checks with the customer before acting.
UNVERIFIED_SAID = (
    "Warning: the sender is not verified. The mail may not be from the customer. "
    "Check with them before acting on it. "
)

View = Callable[..., HttpResponse]


def public_url(request: HttpRequest) -> str:
    """The URL Twilio was given for this request, which its signature covers:
    ``CASEDESK_BASE_URL`` (with its path prefix, if any) and the path within casedesk.

    ``path_info`` rather than the full path: behind a proxy that passes the prefix on
    as ``SCRIPT_NAME`` the full path holds the prefix too, which the base URL already
    has."""
    query = request.META.get("QUERY_STRING", "")
    return settings.BASE_URL + request.path_info + (f"?{query}" if query else "")


def twilio_signed(view: View) -> View:
    """Answer only requests Twilio signed with our auth token (checked before anything else)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.TWILIO_AUTH_TOKEN:
            logger.error("Twilio webhook %s refused: TWILIO_AUTH_TOKEN is not set", request.path)
            return HttpResponse("Twilio is not configured.", status=503, content_type="text/plain")
        url = public_url(request)
        signature = request.headers.get("X-Twilio-Signature", "")
        params = {k: request.POST.get(k, "") for k in request.POST}
        if not signature or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(
            url, params, signature
        ):
            logger.warning("Twilio webhook %s refused: bad or missing signature", request.path)
            return HttpResponse("Bad signature.", status=403, content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapped


def _twiml(response: VoiceResponse | MessagingResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


# ---- The signed link in every SMS and mail: GET shows a button, POST acknowledges ----


@require_http_methods(["GET", "HEAD", "POST"])
def ack(request: HttpRequest, token: str) -> HttpResponse:
    notification = services.notification_for_token(token)
    if notification is None:
        return render(request, "oncall/ack_invalid.html", status=404)
    page = notification.page
    done = None
    if request.method == "POST":
        done = services.acknowledge(page, notification.person, "link")
        page = done.page
    cases = Case.objects.filter(page_link__page=page).select_related("organization")
    return render(
        request,
        "oncall/ack.html",
        {
            "page": page,
            "person": notification.person,
            "cases": cases,
            "done": done,
            # Before the browser's zone is known (the first visit): the person's own.
            "zone": zone_of(notification.person),
        },
    )


# ---- The voice call: what the person hears, and their keypress ----


def _goodbye_if_invalid(token: str) -> tuple[Notification | None, VoiceResponse]:
    """The notification a call is about, or a spoken goodbye for a mangled or old token."""
    response = VoiceResponse()
    notification = services.notification_for_token(token)
    if notification is None:
        response.say("This page is no longer valid. Goodbye.")
        response.hangup()
    return notification, response


@csrf_exempt
@require_POST
@twilio_signed
def voice(request: HttpRequest, token: str) -> HttpResponse:
    notification, response = _goodbye_if_invalid(token)
    if notification is None:
        return _twiml(response)
    page = notification.page
    on_page = Case.objects.filter(page_link__page=page).aggregate(
        count=Count("pk"), unverified=Count("pk", filter=Q(unverified_sender=True))
    )
    count = on_page["count"]
    gather = response.gather(num_digits=1, action=request.path + "ack/", method="POST", timeout=10)
    gather.say(
        f"This is casedesk. A critical case for {page.organization.name} needs you. "
        + (UNVERIFIED_SAID if on_page["unverified"] else "")
        + f"{count} case{'s' if count != 1 else ''} on page {' '.join(page.code)}. "
        "Press 1 to acknowledge."
    )
    response.say("Nothing was pressed. The page stays open and will escalate. Goodbye.")
    return _twiml(response)


@csrf_exempt
@require_POST
@twilio_signed
def voice_ack(request: HttpRequest, token: str) -> HttpResponse:
    notification, response = _goodbye_if_invalid(token)
    if notification is None:
        return _twiml(response)
    if request.POST.get("Digits", "") == "1":
        done = services.acknowledge(notification.page, notification.person, "voice")
        response.say(
            "Acknowledged. Thank you."
            if done.acknowledged_now
            else "Someone already acknowledged this page. Thank you."
        )
    else:
        response.say("That was not 1. The page stays open. Goodbye.")
    response.hangup()
    return _twiml(response)


# ---- SMS replies ("1", "ACK", "ACK K7QF") ----


@csrf_exempt
@require_POST
@twilio_signed
def sms(request: HttpRequest) -> HttpResponse:
    """Twilio's signature has no timestamp: a captured request verifies for ever. Each
    ``MessageSid`` is therefore taken once; a replay gets an empty answer."""
    sid = request.POST.get("MessageSid", "")
    if not MESSAGE_SID_RE.fullmatch(sid):
        reason = "MessageSid is missing." if not sid else "MessageSid is not a Twilio SID."
        logger.warning("SMS webhook refused: %s", reason)
        return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")
    reply = services.receive_sms(sid, request.POST.get("From", ""), request.POST.get("Body", ""))
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return _twiml(response)


# ---- iCalendar feeds behind unguessable tokens ----


@require_safe
def schedule_feed(request: HttpRequest, token: str) -> HttpResponse:
    schedule = Schedule.objects.filter(feed_token=token).first() if _feed_token(token) else None
    if schedule is None:
        raise Http404("no such feed")
    return _ics(feeds.schedule_calendar(schedule), f"{schedule.name}.ics")


@require_safe
def person_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = (
        FeedToken.objects.select_related("person").filter(token=token).first()
        if _feed_token(token)
        else None
    )
    if feed is None or not feed.person.is_active:
        raise Http404("no such feed")
    return _ics(feeds.person_calendar(feed.person), "on-call.ics")


def _feed_token(token: str) -> bool:
    """Only a well-formed token reaches the database (no NUL bytes, no odd lengths)."""
    return FEED_TOKEN_RE.fullmatch(token) is not None


def _ics(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, max-age=300"
    return response
