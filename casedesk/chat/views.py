"""The customer's side of chat over HTTP: the widget, and the long-polling fallback.

The widget (``/chat/widget/``) is one HTML fragment for the portal (``static/chat/widget.js``
fetches it). The vendor's product, on another origin, gets it inside a frame served from
here (``/chat/embed/``), which only the origins in ``CHAT_EMBED_ORIGINS`` may embed: the
frame is casedesk's own page, so its cookies, CSRF token and socket stay same-origin and
the product's page never reads or sends anything of the visitor's chat.

Where WebSockets are blocked the widget sends with ``POST /chat/<id>/send`` and reads with
``GET /chat/<id>/poll?after=``, which waits up to ``CHAT_POLL_SECONDS`` for a message after
the one it names, on the channel layer (no database connection is held while it waits).
Every endpoint finds the chat through ``services.session_for`` (a customer's own chats
only; anyone else gets a 404) and answers JSON; errors carry ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import User
from casedesk.cases import files
from casedesk.chat import broadcast, consumers, services
from casedesk.chat.models import ChatSession, MessageKind
from casedesk.core.middleware import viewer_zone
from casedesk.hours.views import weekly_summary

# How often an open widget asks whether chat opened or closed meanwhile (seconds).
RECHECK_SECONDS = 30


def person(request: HttpRequest) -> User:
    """The logged-in person (``login_required`` or ``staff_only`` let the request through)."""
    user = request.user
    assert isinstance(user, User)
    return user


def chat_or_404(request: HttpRequest, pk: int) -> ChatSession:
    """The chat ``pk`` if this person may see it (``services.session_for``), else 404."""
    session = services.session_for(request.user, pk)
    if session is None:
        raise Http404("no such chat")
    return session


def _refused(exc: services.ChatError, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": str(exc)}, status=status)


def widget_context(request: HttpRequest) -> dict[str, Any]:
    state = services.availability()
    calendar = state.hours.calendar
    user = request.user
    customer = isinstance(user, User) and user.is_active and user.is_customer
    session = services.open_chat_of(user) if customer and isinstance(user, User) else None
    return {
        "chat": state,
        "calendar": calendar,
        "hours": state.hours,
        "weekly": weekly_summary(calendar.weekly),
        "viewer_zone": viewer_zone(request) or calendar.zone,
        "customer": customer,
        "chat_session": session,
        "wait_limit_seconds": int(settings.CHAT_WAIT_LIMIT.total_seconds()),
        "recheck_seconds": RECHECK_SECONDS,
    }


@require_safe
def widget(request: HttpRequest) -> HttpResponse:
    """The widget's HTML: open (start or resume a chat) or offline (hours, critical options,
    leave a message). Same-origin only: it carries the visitor's CSRF token."""
    response = render(request, "chat/widget.html", widget_context(request))
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def state(request: HttpRequest) -> JsonResponse:
    """Whether chat is open now: an open widget asks about every ``RECHECK_SECONDS`` and
    redraws itself when support opens or closes or the last agent goes away or comes back.
    The answer is shared for a few seconds (``services.open_now``): one widget's question
    costs the database nothing most of the time."""
    user = request.user
    response = JsonResponse(
        {
            "state": "open" if services.open_now() else "offline",
            # The widget draws itself again when its visitor logged in (or out) meanwhile.
            "customer": isinstance(user, User) and user.is_active and user.is_customer,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def embed_host(request: HttpRequest) -> str:
    """The embedding page's origin (``?host=``) if it is one of CHAT_EMBED_ORIGINS, else ""."""
    host = request.GET.get("host", "")
    return host if host in settings.CHAT_EMBED_ORIGINS else ""


@xframe_options_exempt  # the CSP's frame-ancestors below decides who may frame it
@require_safe
def embed(request: HttpRequest) -> HttpResponse:
    """The widget as a page of its own, for a frame in the vendor's product (widget.js with
    ``data-casedesk``). Only CHAT_EMBED_ORIGINS may frame it; with none it frames nowhere."""
    context = widget_context(request)
    context["embed_host"] = embed_host(request)
    response = render(request, "chat/embed.html", context)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = frame_ancestors()
    return response


def frame_ancestors() -> str:
    allowed = " ".join(settings.CHAT_EMBED_ORIGINS) or "'none'"
    return f"frame-ancestors {allowed}"


@login_required
@require_safe
def signed_in(request: HttpRequest) -> HttpResponse:
    """Where the embedded widget's log-in window lands: it tells the frame that opened it
    (same origin) and closes; the frame then reloads with the session."""
    response = render(request, "chat/signed_in.html")
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


@login_required
@require_POST
def start(request: HttpRequest) -> JsonResponse:
    try:
        session = services.start(person(request))
    except services.ChatError as exc:
        return _refused(exc, status=409)
    return JsonResponse(
        {"session": services.describe(session), "socket": f"/ws/chat/{session.pk}/"}
    )


@login_required
@require_POST
def send(request: HttpRequest, pk: int) -> JsonResponse:
    session = chat_or_404(request, pk)
    try:
        message = services.post(session, person(request), request.POST.get("body", ""))
    except services.ChatError as exc:
        return _refused(exc)
    return JsonResponse({"message": services.serialize(message)})


@login_required
@require_POST
def send_file(request: HttpRequest, pk: int) -> JsonResponse:
    session = chat_or_404(request, pk)
    uploads = request.FILES.getlist("file")
    if len(uploads) != 1:
        return _refused(services.ChatError("Choose one file."))
    try:
        message = services.post_file(session, person(request), uploads[0])
    except services.ChatError as exc:
        return _refused(exc)
    return JsonResponse({"message": services.serialize(message)})


def _count(request: HttpRequest, name: str, default: str) -> int | None:
    raw = request.GET.get(name, default)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def _poll_once(
    request: HttpRequest, pk: int, after: int, have: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        session = chat_or_404(request, pk)
        found = services.history(session, after)
        if have is not None and session.messages.filter(pk__lte=after).count() > have:
            # Ids are handed out before commit: a message can commit after one with a
            # higher id that the client already has. It says how many it has; if the server
            # has more up to ``after``, the whole history goes back and the client skips
            # ids it knows.
            found = services.history(session)
        messages = [services.serialize(m) for m in found]
        return messages, services.describe(session)
    finally:
        release_connection()


def release_connection() -> None:
    """Close this thread's database connection: a long poll is about to wait for up to
    CHAT_POLL_SECONDS, and a thousand waiting polls must not hold a thousand connections.
    (Inside a transaction, such as a test's, the connection stays.)"""
    if not connection.in_atomic_block:
        connection.close()


# What a waiting poll answers to: a message or a change of the chat's state. Typing (one
# event every 2 s while someone writes) is not news for a poll.
WAKES_A_POLL = frozenset({"chat.message", "chat.state"})


@login_required
@require_safe
async def poll(request: HttpRequest, pk: int) -> JsonResponse:
    """New messages after ``after`` as soon as there are any, or none after the poll time.

    It listens to the chat's group on the channel layer (every message and state change is
    announced there once committed), looks in the database, and, if nothing is new, waits
    for the next message or state announcement or the deadline with no database
    connection; then it looks once more. Listening before looking means nothing committed
    in between is missed. A waiting poll holds one of its person's CHAT_SOCKETS_PER_USER
    places, like a socket: past them it is answered 429."""
    user = await request.auser()  # resolve the lazy user here, not in a worker thread
    assert isinstance(user, User)  # login_required
    await sync_to_async(release_connection)()  # the user is loaded; the wait needs no DB
    after = _count(request, "after", "0")
    have = _count(request, "have", "") if "have" in request.GET else None
    if after is None:
        return JsonResponse({"error": "after must be a message id (digits)."}, status=400)
    if "have" in request.GET and have is None:
        return JsonResponse({"error": "have must be a number of messages (digits)."}, status=400)
    if not consumers.take_place(user.pk):
        response = JsonResponse(
            {"error": "Too many open chat connections; close a tab and try again."},
            status=429,
        )
        response["Retry-After"] = "5"
        return response
    try:
        return await _poll(request, pk, after, have)
    finally:
        consumers.give_place(user.pk)


async def _poll(request: HttpRequest, pk: int, after: int, have: int | None) -> JsonResponse:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.CHAT_POLL_SECONDS
    layer = get_channel_layer()
    if layer is None:  # no channel layer configured: answer at once, the client asks again
        messages, session = await sync_to_async(_poll_once)(request, pk, after, have)
        return JsonResponse({"messages": messages, "session": session})
    group, channel = broadcast.session_group(pk), await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        messages, session = await sync_to_async(_poll_once)(request, pk, after, have)
        if messages:
            return JsonResponse({"messages": messages, "session": session})
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                while (await layer.receive(channel)).get("type") not in WAKES_A_POLL:
                    pass
        except TimeoutError:
            pass
        messages, session = await sync_to_async(_poll_once)(request, pk, after, have)
        return JsonResponse({"messages": messages, "session": session})
    finally:
        await layer.group_discard(group, channel)


@login_required
@require_POST
def end(request: HttpRequest, pk: int) -> JsonResponse:
    session = services.end(chat_or_404(request, pk), person(request))
    return JsonResponse({"session": services.describe(session)})


@login_required
@require_POST
def leave_case(request: HttpRequest, pk: int) -> JsonResponse:
    """A waiting customer leaves the chat as a case instead of waiting on."""
    try:
        case = services.leave_case_from_chat(chat_or_404(request, pk), person(request))
    except services.ChatError as exc:
        return _refused(exc, status=409)
    return _case_answer(case.reference)


@login_required
@require_POST
def leave_message(request: HttpRequest) -> JsonResponse:
    """The offline form: the message becomes a case on the chat channel."""
    try:
        case = services.leave_message(
            person(request), request.POST.get("subject", ""), request.POST.get("body", "")
        )
    except services.ChatError as exc:
        return _refused(exc)
    return _case_answer(case.reference)


def _case_answer(reference: str) -> JsonResponse:
    return JsonResponse({"reference": reference, "url": reverse("portal:case", args=[reference])})


@login_required
@require_safe
def download(request: HttpRequest, pk: int, message: int) -> FileResponse:
    """A chat's file, for the chat's own people (``chat_or_404``): the same download as a
    case's file (``cases.files.serve``)."""
    session = chat_or_404(request, pk)
    found = session.messages.filter(pk=message, kind=MessageKind.FILE).first()
    if found is None or not found.file:
        raise Http404("no such file")
    return files.serve(found.file, found.file_name)
