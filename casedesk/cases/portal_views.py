"""The customer portal: my organization's cases, a new case, one case and its replies.

Views are thin: ``access`` decides which cases and events a person sees (404
for anything else), ``services`` opens and changes cases, and these views only
translate forms into those calls. Every page carries the support-hours banner.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from casedesk.accounts.models import User
from casedesk.cases import presenters, services
from casedesk.cases.access import case_for_user, cases_visible_to, timeline_for
from casedesk.cases.models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Attachment,
    Case,
    Event,
    EventKind,
    Priority,
    Status,
    parse_reference,
)
from casedesk.cases.portal_forms import NewCaseForm, ReplyForm, show_case_error
from casedesk.core.middleware import viewer_zone
from casedesk.hours.services import LoadedCalendar, current_calendar, status

View = Callable[..., HttpResponseBase]

# The list's tabs: (key, label, statuses shown; None for all).
TABS: list[tuple[str, str, tuple[str, ...] | None]] = [
    ("open", "Open", tuple(ACTIVE_STATUSES)),
    ("pending", "Waiting on you", (Status.PENDING,)),
    ("resolved", "Resolved", (Status.RESOLVED,)),
    ("closed", "Closed", (Status.CLOSED,)),
    ("done", "Resolved and closed", tuple(DONE_STATUSES)),
    ("all", "All", None),
]
FILES_AGAIN = "Files are not kept when a form has errors: choose them again."


def customer_required(view: View) -> View:
    """Log-in first (anonymous: to the log-in page with ?next); staff belong in the desk."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if isinstance(user, User) and not user.is_customer:
            pk = parse_reference(kwargs.get("reference", ""))
            if pk is not None:
                return redirect("desk:case", Case(pk=pk).reference)
            return redirect("desk:queue")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _customer(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User) and user.is_customer
    return user


def _zone(request: HttpRequest, calendar: LoadedCalendar | None = None) -> zoneinfo.ZoneInfo:
    """The viewer's zone (their account's, else their browser's), else the calendar's.

    Never UTC by default: a customer who told us nothing reads support's own
    times, as in the confirmation mail (``accounts.services.zone_of``). Pass the
    ``calendar`` when you have it: asking for it again costs a query.
    """
    return viewer_zone(request) or (calendar or current_calendar()).zone


def _page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    calendar: LoadedCalendar | None = None,
    **kw: Any,
) -> HttpResponse:
    """Render a portal page, in the viewer's zone, with the support-hours banner's facts."""
    calendar = calendar or current_calendar()
    zone = _zone(request, calendar)
    context = {
        "calendar": calendar,
        "hours": status(calendar),
        "viewer_zone": zone,
        "zones_differ": zone.key != calendar.zone.key,
        **context,
    }
    with timezone.override(zone):
        return render(request, f"cases/portal/{template}", context, **kw)


def _case_or_404_page(request: HttpRequest, reference: str) -> Case | HttpResponse:
    """The case for this customer, or a 404 page that says what to check.

    The same page for a case that does not exist and one of another
    organization, so it tells nobody which is which.
    """
    try:
        return case_for_user(request.user, reference)
    except Http404:
        shown = reference if parse_reference(reference) is not None else ""
        return _page(request, "not_found.html", {"reference": shown}, status=404)


# ---- The list ------------------------------------------------------------------------


@require_safe
@customer_required
def case_list(request: HttpRequest) -> HttpResponse:
    """My organization's cases, newest first, one tab per state; a fixed number of queries."""
    tab = request.GET.get("status", "open")
    if tab not in {key for key, _, _ in TABS}:
        tab = "open"
    statuses = next(chosen for key, _, chosen in TABS if key == tab)
    cases = (
        cases_visible_to(_customer(request))
        .select_related("priority", "requester")
        .only(*presenters.PORTAL_ROW_FIELDS)
    )
    if statuses is not None:
        cases = cases.filter(status__in=statuses)
    cases = cases.order_by("-opened_at", "-pk")
    page = Paginator(cases, settings.CASES_PER_PAGE).get_page(request.GET.get("page"))
    calendar = current_calendar()
    return _page(
        request,
        "list.html",
        {
            "tabs": [(key, label) for key, label, _ in TABS],
            "tab": tab,
            "tab_label": next(label for key, label, _ in TABS if key == tab),
            "page": page,
            "rows": presenters.portal_rows(page.object_list, _zone(request, calendar)),
        },
        calendar,
    )


# ---- A new case ----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def new_case(request: HttpRequest) -> HttpResponse:
    user = _customer(request)
    if request.method != "POST":
        return _new_case_page(request, NewCaseForm())
    form = NewCaseForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        priority: Priority = data["priority"]
        try:
            case = services.open_case(
                services.NewCase(
                    requester=user,
                    subject=data["subject"],
                    description=data["description"],
                    priority=priority,
                    characteristics="".join(data["characteristics"]),
                    business_impact=data["business_impact"],
                    attachments=request.FILES.getlist("attachments"),
                    submission_token=data["submission"],
                )
            )
        except services.CaseError as error:
            show_case_error(form, error)
        else:
            return redirect("portal:opened", case.reference)
    return _new_case_page(request, form, status_code=400)


def _new_case_page(
    request: HttpRequest, form: NewCaseForm, *, status_code: int = 200
) -> HttpResponse:
    selected = form["priority"].value()
    return _page(
        request,
        "new.html",
        {
            "form": form,
            "priorities": Priority.objects.all(),
            "selected_priority": str(selected) if selected not in (None, "") else "",
            "files_again": bool(form.errors and request.FILES),
        },
        status=status_code,
    )


@require_safe
@customer_required
def opened(request: HttpRequest, reference: str) -> HttpResponse:
    """The confirmation: the reference and what happens next (the same words as the mail)."""
    case = _case_or_404_page(request, reference)
    if isinstance(case, HttpResponse):
        return case
    ack = presenters.acknowledgement(case, _zone(request))
    return _page(request, "opened.html", {"case": case, "ack": ack})


# ---- One case ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the customer's timeline."""

    event: Event
    title: str
    from_support: bool
    files: list[Attachment] = field(default_factory=list)


def _status_label(value: str) -> str:
    return Status(value).label if value in Status.values else value


def _title(event: Event) -> str:
    if event.kind == EventKind.OPENED:
        return "Case opened"
    if event.kind == EventKind.REPLY:
        return "Reply"
    if event.kind == EventKind.STATUS:
        return f"Status: {_status_label(event.old_value)} → {_status_label(event.new_value)}"
    if event.kind == EventKind.PRIORITY:
        return f"Priority: {event.old_value} → {event.new_value}"
    if event.kind == EventKind.DOWNGRADE:
        return f"Downgraded from {event.old_value} to {event.new_value}"
    if event.kind == EventKind.ATTACHMENT:
        return "Files attached"
    return event.get_kind_display()


def _timeline(user: User, case: Case) -> list[Entry]:
    entries = []
    for event in timeline_for(user, case):
        files = [f for f in event.attachments.all() if f.public]  # public events, public files
        by_support = event.author is not None and event.author.is_vendor_staff
        entries.append(Entry(event, _title(event), by_support, files))
    return entries


def _case_page(
    request: HttpRequest, case: Case, form: ReplyForm, *, status_code: int = 200
) -> HttpResponse:
    return _page(
        request,
        "case.html",
        {
            "case": case,
            "entries": _timeline(_customer(request), case),
            "form": form,
            "closed": case.status == Status.CLOSED,
            "files_again": bool(form.errors and request.FILES),
        },
        status=status_code,
    )


@require_safe
@customer_required
def case_page(request: HttpRequest, reference: str) -> HttpResponse:
    case = _case_or_404_page(request, reference)
    if isinstance(case, HttpResponse):
        return case
    return _case_page(request, case, ReplyForm())


@require_POST
@customer_required
def reply(request: HttpRequest, reference: str) -> HttpResponse:
    """A public reply from the customer, with files; back to the case page when it worked."""
    case = _case_or_404_page(request, reference)
    if isinstance(case, HttpResponse):
        return case
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.add_reply(
                case,
                _customer(request),
                form.cleaned_data["body"],
                attachments=request.FILES.getlist("attachments"),
                public=True,
            )
        except services.CaseError as error:
            show_case_error(form, error)
        else:
            messages.success(request, "Your reply was added; support will see it.")
            return redirect(reverse("portal:case", args=[case.reference]) + "#latest")
        case = case_for_user(request.user, reference)  # the state services left it in
    return _case_page(request, case, form, status_code=400)
