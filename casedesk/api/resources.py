"""/api/v1/ beside cases: support hours, on call, organizations. Thin views over the
services of the app that owns each (hours, oncall, accounts)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casedesk.accounts.models import Organization
from casedesk.api.auth import require_staff
from casedesk.api.idempotency import idempotent
from casedesk.cases.access import case_for_user
from casedesk.cases.models import ACTIVE_STATUSES
from casedesk.hours.models import Weekday
from casedesk.hours.services import UnknownCalendar, calendar_or_default, holidays_in_year, status
from casedesk.oncall import schedules
from casedesk.oncall import services as oncall
from casedesk.oncall.models import Page, Schedule

# ---- Support hours --------------------------------------------------------------------


class HoursSerializer(serializers.Serializer[Any]):
    calendar = serializers.CharField()
    title = serializers.CharField()
    timezone = serializers.CharField()
    open_now = serializers.BooleanField()
    next_open = serializers.DateTimeField(allow_null=True)
    next_close = serializers.DateTimeField(allow_null=True)
    weekly = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    )
    holidays = serializers.ListField(child=serializers.DictField())


class Hours(APIView):
    """The support calendar: its zone, weekly hours, whether it is open now, and holidays."""

    @extend_schema(
        parameters=[
            OpenApiParameter("calendar", str, description="A calendar's name (default: support)"),
            OpenApiParameter(
                "year",
                int,
                description="The holidays of this year (default: "
                "this year and next, in the calendar's zone)",
            ),
        ],
        responses=HoursSerializer,
        operation_id="hours",
    )
    def get(self, request: Request) -> Response:
        try:
            calendar = calendar_or_default(request.query_params.get("calendar", ""))
        except UnknownCalendar as exc:
            raise exceptions.NotFound(str(exc)) from None
        now = timezone.now()
        this_year = calendar.local(now).year
        asked = request.query_params.get("year", "")
        if asked and not (asked.isdigit() and 1970 <= int(asked) <= 2100):
            raise exceptions.ValidationError({"year": ["A year from 1970 to 2100."]})
        years = [int(asked)] if asked else [this_year, this_year + 1]
        state = status(calendar, now)
        return Response(
            HoursSerializer(
                {
                    "calendar": calendar.name,
                    "title": calendar.title,
                    "timezone": calendar.zone.key,
                    "open_now": state.open,
                    "next_open": state.next_open,
                    "next_close": state.next_close,
                    "weekly": {
                        day.name.lower(): [
                            list(pair) for pair in calendar.weekly.get(day.value, [])
                        ]
                        for day in Weekday
                    },
                    "holidays": [
                        {"date": day.isoformat(), "name": name}
                        for year in years
                        for day, name in holidays_in_year(calendar, year)
                    ],
                }
            ).data
        )


# ---- On call --------------------------------------------------------------------------


def _slot(slot: schedules.Slot | None) -> dict[str, Any] | None:
    if slot is None:
        return None
    person = slot.person
    return {
        "person": {"email": person.email, "name": person.full_name} if person else None,
        "start": slot.start,
        "end": slot.end,
        "fallback": slot.fallback,
        "override": slot.override,
    }


class OnCall(APIView):
    """Who is on call now and next, per schedule and layer."""

    scope_area = "oncall"

    @extend_schema(responses=serializers.ListSerializer(child=serializers.DictField()),
                   operation_id="oncall_now")  # fmt: skip
    def get(self, request: Request) -> Response:
        require_staff(request)
        now = timezone.now()
        out = []
        for schedule in Schedule.objects.order_by("name"):
            layers = [
                {"layer": row.layer.name, "now": _slot(row.now), "next": _slot(row.next)}
                for row in schedules.now_and_next(schedule, now)
            ]
            out.append({"schedule": schedule.name, "timezone": schedule.zone.key, "layers": layers})
        return Response(serializers.JSONField().to_representation(out))


class PageInput(serializers.Serializer[Any]):
    case = serializers.CharField(max_length=20, help_text="The case to page for: CD-1042.")


class PageSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    status = serializers.CharField()
    organization = serializers.CharField()
    opened_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.EmailField(allow_null=True)
    acknowledged_now = serializers.BooleanField(
        required=False, help_text="Acknowledge: false when someone had already acknowledged it."
    )


def _page_data(page: Page) -> dict[str, Any]:
    return {
        "code": page.code,
        "status": page.status,
        "organization": page.organization.name,
        "opened_at": page.opened_at,
        "acknowledged_at": page.acknowledged_at,
        "acknowledged_by": page.acknowledged_by.email if page.acknowledged_by else None,
    }


class Pages(APIView):
    """Page the on-call team for a case now (or join the organization's open page)."""

    scope_area = "oncall"

    @extend_schema(request=PageInput, responses={201: PageSerializer},
                   operation_id="oncall_page")  # fmt: skip
    @idempotent
    def post(self, request: Request) -> Response:
        require_staff(request)
        given = PageInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            case = case_for_user(request.user, given.validated_data["case"])
        except Http404:
            raise exceptions.ValidationError({"case": ["No such case."]}) from None
        page = oncall.page(case)
        if page is None:
            raise exceptions.ValidationError(
                {
                    "case": [
                        f"{case.organization.name} has no after-hours coverage, or no "
                        "escalation policy exists: nobody was paged."
                    ]
                }
            )
        return Response(PageSerializer(_page_data(page)).data, status=201)


class Acknowledge(APIView):
    """Acknowledge a page as the token's owner: the escalation stops."""

    scope_area = "oncall"

    @extend_schema(request=None, responses=PageSerializer,
                   operation_id="oncall_acknowledge")  # fmt: skip
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        person = require_staff(request)
        page = Page.objects.select_related("organization").filter(code=code.upper()).first()
        if page is None:
            raise exceptions.NotFound("No page has that code.")
        acked = oncall.acknowledge(page, person, via="api")
        data = {**_page_data(acked.page), "acknowledged_now": acked.acknowledged_now}
        return Response(PageSerializer(data).data)


# ---- Organizations ----------------------------------------------------------------------


class OrganizationSerializer(serializers.Serializer[Organization]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    account_number = serializers.CharField()
    after_hours_coverage = serializers.BooleanField()
    domains = serializers.SerializerMethodField()
    phones = serializers.SerializerMethodField()
    active_cases = serializers.IntegerField()
    people = serializers.SerializerMethodField()

    def get_domains(self, organization: Organization) -> list[str]:
        return [d.domain for d in organization.domains.all()]

    def get_phones(self, organization: Organization) -> list[str]:
        return [p.number for p in organization.phones.all()]

    def get_people(self, organization: Organization) -> list[dict[str, Any]]:
        return [
            {"email": p.email, "name": p.full_name, "phone": p.phone, "active": p.is_active}
            for p in organization.people.all()
        ]


class Organizations(APIView):
    """Client organizations, their domains, numbers and people (staff only)."""

    scope_area = "organizations"

    @extend_schema(responses=OrganizationSerializer(many=True), operation_id="organizations")
    def get(self, request: Request) -> Response:
        require_staff(request)
        rows = (
            Organization.objects.order_by("name")
            .annotate(active_cases=Count("cases", filter=Q(cases__status__in=ACTIVE_STATUSES)))
            .prefetch_related("domains", "phones", "people")
        )
        return Response([OrganizationSerializer(row).data for row in rows])
