"""The desk's mail pages: what needs attention, every message as received, and the actions.

Support staff only (the desk's ``staff_only``: a 404 for anyone else). The raw
message is served as a download, never rendered; its HTML is shown only after
nh3 sanitised it, inside a sandboxed frame with no scripts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Organization
from casedesk.cases.desk_views import _staff, staff_only
from casedesk.cases.services import CaseError
from casedesk.mail import services
from casedesk.mail.models import ATTENTION_STATES, InboundMessage, State
from casedesk.mail.parse import parse

PER_PAGE = 50
# The sanitised HTML is shown in a sandboxed frame (no scripts) whose own policy loads
# nothing from elsewhere: a tracking pixel in a customer's mail stays unfetched.
_FRAME_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
)
# The list never loads the raw bytes or bodies: they can be megabytes each.
_LIST_FIELDS = (
    "pk",
    "received_at",
    "source",
    "from_address",
    "subject",
    "state",
    "outcome",
    "reason",
    "case",
    "size",
)


class AssignForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"),
        empty_label="Choose the organization",
        error_messages={"required": "Choose the organization this sender belongs to."},
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        error_messages={"required": "Say why this message needs nothing done."},
    )


@login_required
@staff_only
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "attention")
    if show not in ("attention", "all"):
        show = "attention"
    found = InboundMessage.objects.only(*_LIST_FIELDS).select_related("case")
    if show == "attention":
        found = found.filter(state__in=ATTENTION_STATES)
    page = Paginator(found.order_by("-received_at", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    counts = dict(
        InboundMessage.objects.filter(state__in=[*ATTENTION_STATES, State.PENDING])
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return render(
        request,
        "mail/desk/inbox.html",
        {
            "page": page,
            "show": show,
            "waiting": sum(counts.get(state, 0) for state in ATTENTION_STATES),
            "pending": counts.get(State.PENDING, 0),
        },
    )


def _message_context(message: InboundMessage, **forms_: Any) -> dict[str, Any]:
    parsed = parse(bytes(message.raw))
    return {
        "message": message,
        "parsed": parsed,
        "html_frame": _FRAME_POLICY + parsed.html if parsed.html else "",
        "waiting": message.state in ATTENTION_STATES,
        "unknown_sender": message.state == State.HELD
        and message.reason.startswith("unknown sender"),
        "assign_form": forms_.get("assign_form") or AssignForm(),
        "dismiss_form": forms_.get("dismiss_form") or DismissForm(),
        "bounces": message.bounces.all(),
    }


@login_required
@staff_only
@require_safe
def message_page(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage.objects.select_related("case"), pk=pk)
    return render(request, "mail/desk/message.html", _message_context(message))


@login_required
@staff_only
@require_safe
def raw(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage, pk=pk)
    response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{message.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def _act(
    request: HttpRequest, pk: int, action: Any, form: forms.Form | None, form_name: str
) -> HttpResponse:
    user = _staff(request)
    message = get_object_or_404(InboundMessage.objects.select_related("case"), pk=pk)
    if form is None or form.is_valid():
        try:
            done = action(message, user, form.cleaned_data if form is not None else {})
        except CaseError as exc:
            if form is None:
                messages.error(request, str(exc))
                return redirect("mail:message", pk=pk)
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, done)
            return redirect("mail:message", pk=pk)
    context = _message_context(message, **{form_name: form})
    return render(request, "mail/desk/message.html", context, status=400)


@login_required
@staff_only
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    def act(message: InboundMessage, user: Any, data: dict[str, Any]) -> str:
        outcome = services.assign_sender(message, data["organization"], user)
        return f"{message.from_address} now belongs to {data['organization'].name}: {outcome.line}"

    return _act(request, pk, act, AssignForm(request.POST), "assign_form")


@login_required
@staff_only
@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    def act(message: InboundMessage, user: Any, data: dict[str, Any]) -> str:
        return f"Processed: {services.release(message, user).line}"

    return _act(request, pk, act, None, "")


@login_required
@staff_only
@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    def act(message: InboundMessage, user: Any, data: dict[str, Any]) -> str:
        services.dismiss(message, user, data["reason"])
        return "Dismissed: the message stays stored, nothing else happens."

    return _act(request, pk, act, DismissForm(request.POST), "dismiss_form")
