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

Mail suspended because its sender could not be verified (``CASEDESK_MAIL_SENDER_POLICY``,
issue 17) waits here with the rest, under a filter of its own, each row saying why
and offering a one-click release; mail whose subject says critical comes first. The
message page's "Sender" panel shows what SPF, DKIM and DMARC said, and where it came
from (our DNS lookups, or the trusted MTA's Authentication-Results).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import BinaryField, Count, IntegerField, Value, When
from django.db.models import Case as SqlCase
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Organization
from casedesk.cases.desk_views import _staff, staff_only
from casedesk.cases.services import CaseError
from casedesk.mail import services
from casedesk.mail.models import ATTENTION_STATES, InboundMessage, SenderCheck, State
from casedesk.mail.parse import Limits, Parsed, parse
from casedesk.mail.rules import is_critical_subject

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
    "sender_check",
    "sender_detail",
)
# The mail list's filters: what waits for an agent, the suspended part of it, everything.
SHOWS = ("attention", "suspended", "all")
# Waiting mail whose subject says critical is listed first. The subject test is Python's
# (rules.is_critical_subject folds Unicode first, which SQL cannot), so it reads the
# subjects of at most this many waiting messages, the newest (a flood of forged
# "CRITICAL" mail beyond them is still listed, by time).
CRITICAL_FIRST_SCAN = 1000
# The end of a verdict's summary (senders.Verdict.summary): "...; from DNS)" or
# "...; from Authentication-Results of mx.example.com)".
_CHECKED_BY = re.compile(r";\s*from\s+([^;()]+?)\)?\s*$")


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
    if show not in SHOWS:
        show = "attention"
    found = InboundMessage.objects.only(*_LIST_FIELDS).select_related("case")
    order: list[Any] = ["-received_at", "-pk"]
    critical: set[int] = set()
    if show == "attention":
        found = found.filter(state__in=ATTENTION_STATES)
    elif show == "suspended":
        found = found.filter(state=State.SUSPENDED)
    if show != "all":
        critical = _critical_pks(found)
        if critical:
            first = SqlCase(
                When(pk__in=critical, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
            order = [first, *order]
    page = Paginator(found.order_by(*order), PER_PAGE).get_page(request.GET.get("page"))
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
            "rows": [_Row(message, message.pk in critical) for message in page.object_list],
            "show": show,
            "waiting": sum(counts.get(state, 0) for state in ATTENTION_STATES),
            "suspended": counts.get(State.SUSPENDED, 0),
            "pending": counts.get(State.PENDING, 0),
        },
    )


@dataclass(frozen=True)
class _Row:
    message: InboundMessage
    critical: bool  # waiting, and its subject says critical: listed first, marked

    @property
    def why(self) -> str:
        """Why it waits: the sender check's line for suspended mail, else the reason."""
        if self.message.state == State.SUSPENDED and self.message.sender_detail:
            # The badge says "suspended: sender not verified" already.
            return self.message.sender_detail.removeprefix("sender not verified: ")
        return self.message.reason


def _critical_pks(waiting: Any) -> set[int]:
    """Of the newest waiting messages, those whose subject says critical."""
    subjects = waiting.order_by("-received_at", "-pk").values_list("pk", "subject")
    return {pk for pk, subject in subjects[:CRITICAL_FIRST_SCAN] if is_critical_subject(subject)}


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
        "sender": sender_panel(message),
    }


@dataclass(frozen=True)
class SenderPanel:
    """What the message page says of the sender check (see senders.Verdict)."""

    word: str  # verified, not verified, failed verification, not checked
    css: str
    detail: str
    checked_by: str  # "DNS", "Authentication-Results of mx.example.com", or ""
    explanation: str


def sender_panel(message: InboundMessage) -> SenderPanel:
    detail = " ".join(message.sender_detail.split())
    found = _CHECKED_BY.search(detail)
    checked_by = found.group(1).strip() if found else ""
    if message.sender_check == SenderCheck.PASS:
        return SenderPanel(
            "verified",
            "verified",
            detail,
            checked_by,
            "SPF or DKIM passed for the From: domain: the sender is who the mail says.",
        )
    if message.sender_check == SenderCheck.FAIL:
        return SenderPanel(
            "failed verification",
            "failed",
            detail,
            checked_by,
            "The From: domain's own records say this server or signature is not theirs: "
            "the mail may be forged. Check with the sender (by phone, or an address you "
            "know) before releasing it or acting on it.",
        )
    if message.sender_check == SenderCheck.NONE:
        return SenderPanel(
            "not verified",
            "unverified",
            detail,
            checked_by,
            "Nothing vouched for the sender either way (no SPF, DKIM or DMARC answer): "
            "anyone could have put this address in From. Check with the sender before "
            "acting on a critical request.",
        )
    return SenderPanel(
        "not checked",
        "unchecked",
        detail,
        checked_by,
        "The sender was not checked: CASEDESK_MAIL_SENDER_POLICY is off, or the message "
        "was processed before checks were made.",
    )


@login_required
@staff_only
@require_safe
def message_page(request: HttpRequest, pk: int) -> HttpResponse:
    found = InboundMessage.objects.select_related("case", "released_by").defer("raw")
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


@dataclass(frozen=True)
class _Done:
    """What an action did, for the notice, and the case to show next (if any)."""

    text: str
    case_reference: str = ""


def _act(
    request: HttpRequest, pk: int, action: Any, form: forms.Form | None, form_name: str
) -> HttpResponse:
    user = _staff(request)
    message = get_object_or_404(
        InboundMessage.objects.select_related("case", "released_by").defer("raw"), pk=pk
    )
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
            if isinstance(done, _Done):
                messages.success(request, done.text)
                if done.case_reference:
                    return redirect("desk:case", reference=done.case_reference)
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
    """Process a held or suspended message despite the hold; one click from the mail list.

    The agent lands on the case it opened or answered (the notice says what happened,
    "Released: created CD-1042 Critical, on-call paged"), else back on the message."""

    def act(message: InboundMessage, user: Any, data: dict[str, Any]) -> _Done:
        verb = "Released" if message.state == State.SUSPENDED else "Processed"
        outcome = services.release(message, user)
        text = f"{verb} the mail from {message.from_address or '(no sender)'}: "
        text += services.what_happened(outcome) + "."
        opened = outcome.state in (State.CREATED, State.REPLIED) and outcome.case is not None
        return _Done(text, outcome.case.reference if opened and outcome.case else "")

    return _act(request, pk, act, None, "")


@login_required
@staff_only
@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    def act(message: InboundMessage, user: Any, data: dict[str, Any]) -> str:
        services.dismiss(message, user, data["reason"])
        return "Dismissed: the message stays stored, nothing else happens."

    return _act(request, pk, act, DismissForm(request.POST), "dismiss_form")
