"""The desk's mail pages: what needs attention, every message as received, and the actions.

Support staff only (the desk's ``staff_only``: a 404 for anyone else). The raw
message is served as a download, never rendered; its HTML is shown only after
nh3 sanitised it, inside a sandboxed frame with no scripts.

The message page stays small and quick whatever the message (issue 16: a 25 MB one
was rendered inline): it never sanitises (it shows the HTML processing stored, which
``mail.process`` capped), shows at most :data:`PAGE_TEXT_CHARS` of the text and
:data:`PAGE_HTML_CHARS` of HTML, and parses a message over :data:`PAGE_PARSE_BYTES`
only for its headers (read from the database's first bytes of it); the rest is in
the original, which the page offers as a download.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import BinaryField, Count
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Organization
from casedesk.cases.desk_views import _staff, staff_only
from casedesk.cases.services import CaseError
from casedesk.mail import services
from casedesk.mail.models import ATTENTION_STATES, InboundMessage, State
from casedesk.mail.parse import Limits, Parsed, parse

PER_PAGE = 50
# What the message page shows of a message, at most (the original has the rest).
PAGE_TEXT_CHARS = 64 * 1024
PAGE_HTML_CHARS = 512 * 1024  # processing cuts HTML at 256 KB (CASEDESK_MAIL_SANITISE_MAX_KB)
# Messages up to this size are parsed for the page (recipients, parts, parser notes);
# of a larger one only the first HEAD_BYTES are read, for its headers.
PAGE_PARSE_BYTES = 1024 * 1024
HEAD_BYTES = 64 * 1024
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


def _read_for_page(message: InboundMessage) -> tuple[Parsed, bool]:
    """The message parsed for its page (never sanitised), and whether it was whole."""
    if message.size <= PAGE_PARSE_BYTES:
        return parse(bytes(message.raw), Limits(sanitise=False)), True
    head = (
        InboundMessage.objects.filter(pk=message.pk)
        .annotate(head=Substr("raw", 1, HEAD_BYTES, output_field=BinaryField()))
        .values_list("head", flat=True)
        .get()
    )
    return parse(_header_block(bytes(head)), Limits(sanitise=False)), False


def _header_block(head: bytes) -> bytes:
    """The header lines at the start of ``head`` (a message's first bytes), and no body."""
    ends = [end for end in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if end >= 0]
    if ends:
        return head[: min(ends)] + b"\r\n\r\n"
    return head[: head.rfind(b"\n") + 1] + b"\r\n"


def _message_context(message: InboundMessage, **forms_: Any) -> dict[str, Any]:
    parsed, whole = _read_for_page(message)
    # Processing stored the text and the sanitised, capped HTML; a message still
    # pending shows the text read here.
    text = message.text or parsed.text
    html = message.html
    return {
        "message": message,
        "parsed": parsed,
        "whole": whole,
        "text": text[:PAGE_TEXT_CHARS],
        "text_cut": len(text) > PAGE_TEXT_CHARS,
        "html_frame": _FRAME_POLICY + html if html and len(html) <= PAGE_HTML_CHARS else "",
        "html_too_large": len(html) > PAGE_HTML_CHARS,
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
    found = InboundMessage.objects.select_related("case").defer("raw")
    message = get_object_or_404(found, pk=pk)
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
    message = get_object_or_404(InboundMessage.objects.select_related("case").defer("raw"), pk=pk)
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
