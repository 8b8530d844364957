"""The agent desk: the queue of active cases and the page where an agent works one case.

Only support staff (agents and admins) get here; for anyone else every desk URL is a
404, like a case of another organization. Views are thin: they read a form, call
``cases.services`` (the one way cases change) and put its ``CaseError`` messages
back on the form; after a successful POST they redirect.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.cases import presenters, services
from casedesk.cases.access import case_for_user, timeline_for
from casedesk.cases.desk_forms import (
    AssignForm,
    DowngradeForm,
    PriorityForm,
    QueueFilterForm,
    ReplyForm,
    StatusForm,
)
from casedesk.cases.models import (
    ACTIVE_STATUSES,
    Case,
    parse_reference,
)

QUEUE_ORDER = (F("next_due").asc(nulls_last=True), "opened_at", "pk")
OTHER_OPEN_CASES_SHOWN = 20

View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Support staff only; anyone else is told there is nothing here (404), not "forbidden".

    Stack it under ``login_required`` (anonymous people go to the log-in page) and
    above ``require_POST``, so a customer gets the same 404 on every desk URL.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if staff_member(request.user) is None:
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    return wrapped


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # staff_only let the request through
    return user


# ---- The queue ----------------------------------------------------------------------------


def queue_cases(user: User, filters: dict[str, Any]) -> QuerySet[Case]:
    """Active cases, earliest deadline first (``case_queue_idx``), narrowed by ``filters``.

    Without joins: the queue sorts and pages these narrow rows, then ``queue_page``
    fetches the one page with its people and priority (a sort over joined rows of
    100,000 cases is ten times slower on SQLite).
    """
    cases = Case.objects.filter(status__in=ACTIVE_STATUSES).order_by(*QUEUE_ORDER)
    if status := filters.get("status"):
        cases = cases.filter(status=status)
    if priority := filters.get("priority"):
        cases = cases.filter(priority=priority)
    if organization := filters.get("organization"):
        cases = cases.filter(organization=organization)
    if assignee := filters.get("assignee"):
        cases = cases.filter(assignee=assignee)
    show = filters.get("show")
    if show == "mine":
        cases = cases.filter(assignee=user)
    elif show == "unassigned":
        cases = cases.filter(assignee__isnull=True)
    elif show == "after_hours_critical":
        cases = cases.filter(after_hours_alarm=True)
    if q := " ".join(str(filters.get("q", "")).split()):
        pk = parse_reference(q)
        if pk is not None:
            # "CD-1042" or "1042" is a reference: the one case, not every subject with 1042.
            cases = cases.filter(pk=pk)
        else:
            # The people first (one small query), so each case is not joined to its requester.
            people = User.objects.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
            cases = cases.filter(Q(subject__icontains=q) | Q(requester__in=people))
    return cases


class QueueKeys:
    """The primary keys of ``cases`` in queue order, for the Paginator, read through the index.

    ``status IN (new, open, pending, on_hold)`` sorted by ``next_due`` makes SQLite scan the
    whole table and sort (its statistics cannot tell that most cases are closed). One walk
    per active status reads ``case_queue_idx`` (status, next_due) in order instead; the
    page is the merge of the four. Where the database takes ordered, limited parts in a
    UNION (PostgreSQL) the four walks go in one statement, one round trip instead of four;
    SQLite gets four queries. Either way a page costs the same whatever its size.
    """

    def __init__(self, cases: QuerySet[Case]) -> None:
        self.cases = cases

    def count(self) -> int:
        return self.cases.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[int]:
        start, stop = window.start or 0, window.stop
        parts = [
            self.cases.filter(status=status).values_list("next_due", "opened_at", "pk")[:stop]
            for status in ACTIVE_STATUSES
        ]
        merged: Iterable[tuple[datetime | None, datetime, int]]
        if connections[self.cases.db].features.supports_slicing_ordering_in_compound:
            merged = sorted(parts[0].union(*parts[1:], all=True), key=_queue_key)
        else:
            merged = heapq.merge(*parts, key=_queue_key)
        return [pk for _, _, pk in itertools.islice(merged, start, stop)]


def _queue_key(row: tuple[datetime | None, datetime, int]) -> tuple[bool, datetime, datetime, int]:
    next_due, opened_at, pk = row
    return (next_due is None, next_due or opened_at, opened_at, pk)


def queue_page(cases: QuerySet[Case], number: str | None) -> tuple[Page[int], list[Case]]:
    """One page of the queue: page the primary keys, then load those cases with what a row shows.

    The number of queries is the same whatever the page size (count, keys, rows).
    """
    keys: Any = QueueKeys(cases)  # sliceable with count(): all Paginator needs
    page: Page[int] = Paginator(keys, settings.CASES_PER_PAGE).get_page(number)
    return page, presenters.queue_cases(list(page.object_list))


@login_required
@staff_only
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    form = QueueFilterForm(request.GET)
    filters = form.valid_filters()
    page, cases = queue_page(queue_cases(user, filters), request.GET.get("page"))
    rows = presenters.queue_rows(cases, timezone.now())
    closed_match = None
    reference = parse_reference(filters.get("q", ""))
    if reference is not None and not rows:
        # Searching a reference of a case that is no longer in the queue: link to it anyway.
        closed_match = Case.objects.filter(pk=reference).exclude(status__in=ACTIVE_STATUSES).first()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/desk/queue.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "filtered": bool(filters),
            "closed_match": closed_match,
            "query": query.urlencode(),
        },
    )


# ---- One case -----------------------------------------------------------------------------


def _case_url(case: Case, anchor: str = "") -> str:
    url = reverse("desk:case", args=[case.reference])
    return f"{url}#{anchor}" if anchor else url


def other_open_cases(case: Case) -> list[Case]:
    """The organization's other active cases, earliest deadline first, as the queue orders
    them; at most ``OTHER_OPEN_CASES_SHOWN``, with what their lines show.

    Their keys come one active status at a time through ``case_org_queue_idx``
    (``QueueKeys``), then the cases themselves. Asked in one query, PostgreSQL read every
    active case of the organization and sorted them (3,400 of a large client's: 12 ms of
    the page); the four short index walks take well under one.
    """
    others = (
        Case.objects.filter(organization=case.organization_id, status__in=ACTIVE_STATUSES)
        .exclude(pk=case.pk)
        .order_by(*QUEUE_ORDER)
    )
    pks = QueueKeys(others)[0:OTHER_OPEN_CASES_SHOWN]
    loaded = (
        Case.objects.select_related("priority", "assignee")
        .only(*presenters.OTHER_CASE_FIELDS)
        .in_bulk(pks)
    )
    return [loaded[pk] for pk in pks if pk in loaded]


def _render_case(
    request: HttpRequest, case: Case, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The case page; ``bound`` holds a form that failed, to show with its errors."""
    user = _staff(request)
    forms: dict[str, Any] = {
        "reply_form": ReplyForm(),
        "status_form": StatusForm(initial={"status": case.status}),
        "priority_form": PriorityForm(initial={"priority": case.priority_id}),
        "downgrade_form": DowngradeForm(),
        "assign_form": AssignForm(initial={"assignee": case.assignee_id}),
    }
    forms.update(bound or {})
    now = timezone.now()
    dates = presenters.DateText()
    return render(
        request,
        "cases/desk/case.html",
        {
            "case": case,
            "timeline": presenters.desk_timeline(timeline_for(user, case), dates),
            "other_open": presenters.other_cases(other_open_cases(case)),
            # Counted only for the downgrade form, which only a critical case shows.
            "downgrades": (
                services.downgrades_of(case.organization)
                if case.priority.is_critical or (bound and "downgrade_form" in bound)
                else 0
            ),
            "urgency": presenters.urgency(case, now) if case.is_active else "",
            "due": presenters.due_of(case.next_due, now, dates),
            "failed": next(iter(bound)) if bound else "",
            "refused": next(iter(bound.values())) if bound else None,
            **forms,
        },
        status=status,
    )


@login_required
@staff_only
@require_safe
def case_page(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_case(request, case_for_user(request.user, reference))


# ---- Actions: each a POST that changes the case through the services, then redirects ------

Action = Callable[[Case, User, dict[str, Any]], str]


def _act(
    request: HttpRequest,
    reference: str,
    form_name: str,
    form: Any,
    action: Action,
    anchor: str = "",
) -> HttpResponse:
    """Validate ``form``, run ``action`` (which returns the message to show), redirect.

    On bad input or a ``CaseError`` nothing changed: the page is shown again
    (status 400) with the messages on the form that was sent.
    """
    user = _staff(request)
    case = case_for_user(user, reference)
    if form.is_valid():
        try:
            done = action(case, user, form.cleaned_data)
        except services.CaseError as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, done)
            return redirect(_case_url(case, anchor))
    return _render_case(request, case, {form_name: form}, status=400)


def _reply(case: Case, user: User, data: dict[str, Any]) -> str:
    public = data["kind"] == "reply"
    services.add_reply(
        case,
        user,
        data["body"],
        public=public,
        attachments=data["attachments"],
        status=data["status"] or None,
    )
    return "Your reply was sent to the customer." if public else "Your internal note was added."


@login_required
@staff_only
@require_POST
def reply(request: HttpRequest, reference: str) -> HttpResponse:
    form = ReplyForm(request.POST, request.FILES)
    return _act(request, reference, "reply_form", form, _reply, anchor="timeline-end")


def _status(case: Case, user: User, data: dict[str, Any]) -> str:
    if data["status"] == case.status:
        already = case.get_status_display()
        raise services.CaseError.on("status", f"{case.reference} is already {already}.")
    changed = services.change_status(case, data["status"], user, data["reason"])
    return f"{changed.reference} is now {changed.get_status_display()}."


@login_required
@staff_only
@require_POST
def change_status(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(request, reference, "status_form", StatusForm(request.POST), _status)


def _priority(case: Case, user: User, data: dict[str, Any]) -> str:
    changed = services.change_priority(
        case,
        data["priority"],
        user,
        data["reason"],
        characteristics="".join(data["characteristics"]),
        business_impact=data["business_impact"],
    )
    return f"{changed.reference} is now {changed.priority.name}."


@login_required
@staff_only
@require_POST
def change_priority(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(request, reference, "priority_form", PriorityForm(request.POST), _priority)


def _downgrade(case: Case, user: User, data: dict[str, Any]) -> str:
    changed = services.downgrade(case, data["priority"], user, data["reason"])
    return (
        f"{changed.reference} was downgraded to {changed.priority.name}; "
        "the customer sees your reason."
    )


@login_required
@staff_only
@require_POST
def downgrade(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(request, reference, "downgrade_form", DowngradeForm(request.POST), _downgrade)


def _assign(case: Case, user: User, data: dict[str, Any]) -> str:
    assignee: User | None = data["assignee"]
    changed = services.assign(case, assignee, user)
    if changed.assignee is None:
        return f"{changed.reference} is unassigned."
    if changed.assignee.pk == user.pk:
        return f"You took {changed.reference}."
    return f"{changed.reference} is assigned to {changed.assignee.email}."


@login_required
@staff_only
@require_POST
def assign(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(request, reference, "assign_form", AssignForm(request.POST), _assign)
