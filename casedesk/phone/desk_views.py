"""The desk's pages for the emergency line: the call log, one call (with triage), and the
monthly fee report (page and CSV).

Staff only: anyone else gets the desk's 404 (``cases.desk_views.staff_only``), anonymous
people the log-in page. State changes on POST only, through ``phone.fees``; a refused
change shows the call page again (400) with the message on the form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Organization, OrganizationPhone, User, normalize_phone
from casedesk.cases.desk_views import _staff, staff_only
from casedesk.hours.services import current_calendar
from casedesk.lib.durations import humanize_duration
from casedesk.lib.months import MonthError, month_span, parse_month
from casedesk.lib.spreadsheet import csv_response
from casedesk.phone import fee_report, fees, recordings
from casedesk.phone.models import Call, CallOutcome, Fee, Leg

CALLS_PER_PAGE = 50


# ---- Forms ------------------------------------------------------------------------------


class CallFilterForm(forms.Form):
    """GET filters of the call log; a value that does not fit is reported (400)."""

    outcome = forms.ChoiceField(choices=[("", "Any outcome"), *CallOutcome.choices], required=False)
    triage = forms.ChoiceField(
        choices=[
            ("", "Any"),
            ("non_emergency", "Marked non-emergency"),
            ("unmarked", "Not marked"),
        ],
        required=False,
        label="Triage",
    )
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"),
        required=False,
        empty_label="Any organization",
    )
    # No max_length: parse_month says what a month looks like, whatever was typed.
    month = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "month"}))

    def clean_month(self) -> date | None:
        text = self.cleaned_data.get("month") or ""
        if not text:
            return None
        try:
            return parse_month(text)
        except MonthError as exc:
            raise forms.ValidationError(str(exc)) from exc


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=fees.REASON_MAX,
        error_messages={"required": "Say why: the customer reads this reason."},
    )


class MarkForm(ReasonForm):
    lower_priority = forms.BooleanField(
        required=False,
        initial=True,
        label="Lower the case from Critical to the default priority",
        help_text="Stops the 2-hour clock and the after-hours alarm; the customer sees the "
        "change and your reason on the case.",
    )


class VoidForm(ReasonForm):
    pass


# ---- The call log -----------------------------------------------------------------------


def filtered_calls(data: dict[str, Any]) -> QuerySet[Call]:
    calls = Call.objects.select_related("organization", "caller", "case", "answered_by", "fee")
    if outcome := data.get("outcome"):
        calls = calls.filter(outcome=outcome)
    if data.get("triage") == "non_emergency":
        calls = calls.filter(non_emergency_at__isnull=False)
    elif data.get("triage") == "unmarked":
        calls = calls.filter(non_emergency_at__isnull=True)
    if organization := data.get("organization"):
        calls = calls.filter(organization=organization)
    if month := data.get("month"):
        zone = current_calendar().zone
        start, end = month_span(month, zone)
        calls = calls.filter(started_at__gte=start, started_at__lt=end)
    return calls.order_by("-started_at", "-pk")


@login_required
@staff_only
@require_safe
def call_log(request: HttpRequest) -> HttpResponse:
    form = CallFilterForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "phone/desk/calls.html",
            {"form": form, "page": None, "calls": [], "query": ""},
            status=400,
        )
    page = Paginator(filtered_calls(form.cleaned_data), CALLS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "phone/desk/calls.html",
        {
            "form": form,
            "page": page,
            "calls": list(page.object_list),
            "query": query.urlencode(),
            "filtered": any(form.cleaned_data.values()),
        },
    )


# ---- One call ---------------------------------------------------------------------------


def _duration(seconds: int | None) -> str:
    return "" if seconds is None else humanize_duration(timedelta(seconds=seconds))


def _recording_link(call: Call) -> str:
    """The voicemail's case file once the worker has copied it from Twilio (Twilio's own
    address needs the account's credentials, which agents do not have), else ""."""
    voicemail = recordings.attachment_of(call)
    if voicemail is None or call.case is None:
        return ""
    return reverse("case_file", args=[call.case.reference, voicemail.pk, voicemail.name])


def _render_call(
    request: HttpRequest, call: Call, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    legs = list(call.legs.select_related("person"))
    fee = Fee.objects.filter(call=call).select_related("charged_by", "voided_by").first()
    forms_: dict[str, Any] = {"mark_form": MarkForm(), "void_form": VoidForm()}
    forms_.update(bound or {})
    critical = call.case is not None and call.case.priority.is_critical and call.case.is_active
    if not critical:  # nothing to lower: the form does not offer it
        forms_["mark_form"].fields.pop("lower_priority", None)
    # A refused form the page no longer offers (the call was marked, or voided, meanwhile):
    # its message still has to show.
    failed = next(iter(bound)) if bound else ""
    offered = "void_form" if call.non_emergency_at else ("" if fee else "mark_form")
    orphan_errors = list(forms_[failed].errors.values()) if failed and failed != offered else []
    return render(
        request,
        "phone/desk/call.html",
        {
            "call": call,
            "legs": [(leg, _duration(leg.duration_seconds)) for leg in legs],
            "duration": _duration(call.duration_seconds),
            "recording": _recording_link(call),
            "recording_length": _duration(call.recording_seconds),
            "fee": fee,
            "fee_amount": settings.PHONE_FEE,
            "fee_currency": settings.PHONE_FEE_CURRENCY,
            "recipients": fees.recipients(call),
            "identified_by": identified_by(call),
            "case_critical": critical,
            "failed": failed,
            "orphan_errors": [error for errors in orphan_errors for error in errors],
            **forms_,
        },
        status=status,
    )


def identified_by(call: Call) -> str:
    """How the line knew the call's organization: ``number`` (the calling number is one of
    the organization's), ``account`` (it is not, so the caller keyed in the account number:
    the only other way the flow identifies one), or "" (not identified).

    The call does not record which path it took; this reads it from the organization's
    numbers as they are now (a number added since the call reads as ``number``).
    """
    if call.organization_id is None:
        return ""
    number = normalize_phone(call.from_number or "")
    known = OrganizationPhone.objects.filter(organization=call.organization_id, number=number)
    return "number" if number and known.exists() else "account"


def _call(pk: int) -> Call:
    return get_object_or_404(
        Call.objects.select_related(
            "organization", "caller", "case__priority", "answered_by", "non_emergency_by"
        ).prefetch_related(Prefetch("legs", queryset=Leg.objects.select_related("person"))),
        pk=pk,
    )


@login_required
@staff_only
@require_safe
def call_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_call(request, _call(pk))


def _act(
    request: HttpRequest,
    pk: int,
    form_name: str,
    form: ReasonForm,
    action: Callable[[Call, User, dict[str, Any]], str],
) -> HttpResponse:
    """Validate ``form``, run ``action`` (which returns the message to show), redirect;
    on bad input or a ``TriageError`` nothing changed and the call page says why (400)."""
    call = _call(pk)
    if form.is_valid():
        try:
            done = action(call, _staff(request), form.cleaned_data)
        except fees.TriageError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, done)
            return redirect("phone_desk:call", pk=call.pk)
    return _render_call(request, call, {form_name: form}, status=400)


def _mark(call: Call, by: User, data: dict[str, Any]) -> str:
    done = fees.mark_non_emergency(
        call, by, data["reason"], lower_priority=data.get("lower_priority", False)
    )
    charged = "no fee (fees are off)"
    if done.fee is not None:
        charged = f"a fee of {done.fee.amount} {done.fee.currency} was recorded"
    told = "the customer will be told by email" if done.told else "nobody to tell"
    lowered = ""
    if done.lowered_to:
        lowered = f" The case is now {done.lowered_to}."
    elif done.not_lowered:
        lowered = f" The case's priority was left as it was: {done.not_lowered}."
    return f"Marked non-emergency: {charged}; {told}.{lowered}"


def _void(call: Call, by: User, data: dict[str, Any]) -> str:
    fees.void_fee(call, by, data["reason"])
    return "The mark is withdrawn and any fee voided."


@login_required
@staff_only
@require_POST
def mark(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "mark_form", MarkForm(request.POST), _mark)


@login_required
@staff_only
@require_POST
def void(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "void_form", VoidForm(request.POST), _void)


# ---- The monthly fee report -------------------------------------------------------------


@login_required
@staff_only
@require_safe
def fee_report_page(request: HttpRequest) -> HttpResponse:
    zone = current_calendar().zone
    text = request.GET.get("month")
    if text is None or text == "":
        today = timezone.now().astimezone(zone)
        month = date(today.year, today.month, 1)
    else:
        try:
            month = parse_month(text.strip())
        except MonthError as exc:
            return render(
                request,
                "phone/desk/fees.html",
                {"error": str(exc), "month_text": text[:20], "zone": zone},
                status=400,
            )
    report = fee_report.build(month, zone)
    if request.GET.get("format") == "csv":
        return csv_response(fee_report.to_csv(report), f"fees-{month:%Y-%m}.csv")
    charts = fee_report.chart(report)
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=32)).replace(day=1)
    return render(
        request,
        "phone/desk/fees.html",
        {
            "report": report,
            "charts": charts,
            "month": month,
            "month_text": f"{month:%Y-%m}",
            "previous": f"{previous:%Y-%m}",
            "following": f"{following:%Y-%m}",
            "zone": zone,
            "csv_url": f"{reverse('phone_desk:fees')}?month={month:%Y-%m}&format=csv",
        },
    )
