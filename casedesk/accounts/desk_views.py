"""The desk's organization pages: who a client is, how to reach them, what is open, and
what their emergency calls cost.

Staff only (the desk's 404 for anyone else). Read-only: organizations are still edited in
the Django admin. Calls and fees come from ``casedesk.phone``; open cases from
``casedesk.cases``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from casedesk.accounts.models import Role, User
from casedesk.accounts.services import organization_for_user, organizations_visible_to
from casedesk.cases.desk_views import QUEUE_ORDER, staff_only
from casedesk.cases.models import ACTIVE_STATUSES, Case
from casedesk.hours.services import current_calendar
from casedesk.phone import fees
from casedesk.phone.models import Call, Fee

RECENT_CALLS = 20
RECENT_FEES = 20
OPEN_CASES_SHOWN = 50


def _count(rows: QuerySet[Any]) -> Coalesce:
    """``COUNT(*)`` of ``rows`` (correlated with the outer organization) as an annotation."""
    counted = rows.order_by().values("organization").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@login_required
@staff_only
@require_safe
def organizations(request: HttpRequest) -> HttpResponse:
    zone = current_calendar().zone
    start, end = fees.month_bounds(timezone.now(), zone)
    rows = (
        organizations_visible_to(request.user)
        .annotate(
            # One subquery per count: two Counts over the people and cases joins would
            # multiply the rows (people x cases) before counting them.
            customers=_count(
                User.objects.filter(organization=OuterRef("pk"), role=Role.CUSTOMER)
            ),
            open_cases=_count(
                Case.objects.filter(organization=OuterRef("pk"), status__in=ACTIVE_STATUSES)
            ),
        )
        .order_by("name")
    )
    month_fees: dict[int, list[fees.Total]] = {}
    for fee_total in (
        fees.live_fees()
        .filter(charged_at__gte=start, charged_at__lt=end)
        .values("organization", "currency")
        .order_by("organization", "currency")
        .annotate(total=Sum("amount"))
    ):
        month_fees.setdefault(fee_total["organization"], []).append(
            fees.Total(fee_total["currency"], fees.cents(fee_total["total"]))
        )
    return render(
        request,
        "accounts/desk/organizations.html",
        {
            "rows": [(org, month_fees.get(org.pk, [])) for org in rows],
            "month": start.date(),
            "zone": zone,
        },
    )


@login_required
@staff_only
@require_safe
def organization(request: HttpRequest, pk: int) -> HttpResponse:
    org = organization_for_user(request.user, pk)
    zone = current_calendar().zone
    now = timezone.now()
    start, _ = fees.month_bounds(now, zone)
    open_cases = (
        Case.objects.filter(organization=org, status__in=ACTIVE_STATUSES)
        .select_related("priority", "assignee", "requester")
        .order_by(*QUEUE_ORDER)
    )
    return render(
        request,
        "accounts/desk/organization.html",
        {
            "organization": org,
            "people": org.people.filter(role=Role.CUSTOMER).order_by("email"),
            "phones": org.phones.all(),
            "domains": org.domains.all(),
            "open_cases": open_cases[:OPEN_CASES_SHOWN],
            "open_count": open_cases.count(),
            "calls": Call.objects.filter(organization=org)
            .select_related("caller", "case", "answered_by", "fee")
            .order_by("-started_at", "-pk")[:RECENT_CALLS],
            "fees": Fee.objects.filter(organization=org)
            .select_related("call", "charged_by", "voided_by")
            .order_by("-charged_at", "-pk")[:RECENT_FEES],
            "month_totals": fees.totals(fees.fees_of_month(org, now, zone)),
            "month": start.date(),
            "zone": zone,
        },
    )
