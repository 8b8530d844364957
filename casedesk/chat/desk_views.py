"""The agents' chat console (``/desk/chat/``): the queue, several chats at once, and the
actions on a chat. Messages and typing go over the chat's WebSocket (or the same HTTP
fallback the customer has); these endpoints answer JSON for the console's script."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Role, User
from casedesk.cases.access import case_for_user
from casedesk.cases.desk_views import staff_only
from casedesk.chat import services
from casedesk.chat.models import (
    ENDED_AS_DUPLICATE,
    CannedReply,
    ChatMessage,
    ChatSession,
    ChatStatus,
    MessageKind,
    Presence,
)
from casedesk.chat.views import chat_or_404, person


@login_required
@staff_only
@require_safe
def console(request: HttpRequest) -> HttpResponse:
    me = person(request)
    agents = User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.ADMIN]).exclude(
        pk=me.pk
    )
    presence = Presence.objects.filter(agent=me).first()
    return render(
        request,
        "chat/console.html",
        {
            "agents": agents.order_by("full_name", "email"),
            "canned": CannedReply.objects.all(),
            # The agent's own choice, kept across visits; an agent's first console visit
            # makes them available (that is what opening the console is for).
            "available": presence.available if presence is not None else True,
        },
    )


# An ended chat not yet on a case stays on its agent's console this long, so they can
# still open a case from it or add it to one.
UNFILED_KEPT = timedelta(hours=24)


def _board(agent: User) -> dict[str, Any]:
    unfiled = Q(status=ChatStatus.ENDED, case__isnull=True)
    customer_wrote = Exists(
        ChatMessage.objects.filter(
            session=OuterRef("pk"),
            author=OuterRef("customer"),
            kind__in=(MessageKind.TEXT, MessageKind.FILE),
        )
    )
    ended_as_duplicate = Exists(
        ChatMessage.objects.filter(
            session=OuterRef("pk"), kind=MessageKind.SYSTEM, body=ENDED_AS_DUPLICATE
        )
    )
    mine = (
        ChatSession.objects.filter(
            Q(status=ChatStatus.ACTIVE, agent=agent)
            | (unfiled & Q(agent=agent, ended_at__gte=timezone.now() - UNFILED_KEPT))
            # A customer's second chat, ended by migration chat/0002 before any agent
            # took it: what they wrote there is on every console until someone files it.
            | (unfiled & Q(agent__isnull=True) & Q(customer_wrote) & Q(ended_as_duplicate))
        )
        .select_related("customer", "organization", "agent", "case")
        .order_by("created_at", "pk")
    )
    return {
        "queue": services.describe_all(list(services.waiting_queue())),
        "mine": services.describe_all(list(mine)),
        "available": services.availability(),
    }


@login_required
@staff_only
@require_POST
def heartbeat(request: HttpRequest) -> JsonResponse:
    """The open console says the agent is here (and, with ``available``, whether they take
    chats); it answers the queue and the agent's own chats."""
    raw = request.POST.get("available")
    flag = {"1": True, "0": False}.get(raw) if raw is not None else None
    presence = services.heartbeat(person(request), flag)
    board = _board(person(request))
    state = board.pop("available")
    return JsonResponse(
        {
            **board,
            "available": presence.available,
            "chat_open": state.open,
            "support_open": state.hours.open,
        }
    )


def _number(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 18 else 0


@login_required
@staff_only
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> JsonResponse:
    """Accept a waiting chat, transfer one's chat (``to``: an agent's id) or end it."""
    session = chat_or_404(request, pk)
    agent = person(request)
    try:
        if action == "accept":
            services.accept(session, agent)
        elif action == "end":
            services.end(session, agent)
        else:
            target = User.objects.filter(pk=_number(request.POST.get("to", ""))).first()
            if target is None:
                raise services.ChatError("Choose an agent.")
            services.transfer(session, agent, target)
    except services.ChatError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    session.refresh_from_db()
    return JsonResponse({"session": services.describe(session)})


@login_required
@staff_only
@require_POST
def to_case(request: HttpRequest, pk: int) -> JsonResponse:
    """A new case from the chat, or (with ``reference``) the chat added to that case."""
    session = chat_or_404(request, pk)
    reference = request.POST.get("reference", "").strip()
    try:
        if reference:
            try:
                case = case_for_user(request.user, reference)
            except Http404:
                raise services.ChatError(f"There is no case {reference[:20]}.") from None
            services.attach_to_case(session, person(request), case)
        else:
            case = services.to_case(session, person(request), request.POST.get("subject", ""))
    except services.ChatError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse(
        {"reference": case.reference, "url": reverse("desk:case", args=[case.reference])}
    )
