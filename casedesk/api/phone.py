"""/api/v1/calls/ and /api/v1/fees/: the emergency line's log and its non-emergency fees,
to read (staff, ``phone:read``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from casedesk.api.auth import require_staff
from casedesk.phone.models import Call, CallOutcome, Fee


class LegSerializer(serializers.Serializer[Any]):
    position = serializers.IntegerField()
    engineer = serializers.EmailField(source="person.email", allow_null=True, default=None)
    number = serializers.CharField()
    outcome = serializers.CharField()
    started_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True)


class CallSerializer(serializers.Serializer[Call]):
    id = serializers.IntegerField()
    sid = serializers.CharField()
    from_number = serializers.CharField()
    organization = serializers.CharField(source="organization.name", allow_null=True, default=None)
    caller = serializers.EmailField(source="caller.email", allow_null=True, default=None)
    case = serializers.CharField(source="case.reference", allow_null=True, default=None)
    outcome = serializers.ChoiceField(choices=CallOutcome.choices)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True)
    answered_at = serializers.DateTimeField(allow_null=True)
    answered_by = serializers.EmailField(source="answered_by.email", allow_null=True, default=None)
    non_emergency = serializers.SerializerMethodField()
    legs = LegSerializer(many=True)

    def get_non_emergency(self, call: Call) -> bool:
        return call.non_emergency_at is not None


class FeeSerializer(serializers.Serializer[Fee]):
    id = serializers.IntegerField()
    organization = serializers.CharField(source="organization.name")
    call = serializers.IntegerField(source="call_id")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    reason = serializers.CharField()
    charged_at = serializers.DateTimeField()
    charged_by = serializers.EmailField(source="charged_by.email", allow_null=True, default=None)
    voided_at = serializers.DateTimeField(allow_null=True)


class Newest(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _since(request: Request, queryset: QuerySet[Any], field: str) -> QuerySet[Any]:
    text = request.query_params.get("since", "")
    if not text:
        return queryset
    at = parse_datetime(text)
    if at is None or at.tzinfo is None:
        raise exceptions.ValidationError({"since": ["An ISO 8601 time with its offset."]})
    return queryset.filter(**{f"{field}__gte": at})


def _organization(request: Request, queryset: QuerySet[Any]) -> QuerySet[Any]:
    text = request.query_params.get("organization", "")
    if not text:
        return queryset
    if not text.isdigit() or len(text) > 12:
        raise exceptions.ValidationError({"organization": ["An organization's id, a number."]})
    return queryset.filter(organization_id=int(text))


FILTERS = [
    OpenApiParameter("organization", int, description="An organization's id."),
    OpenApiParameter("since", str, description="At or after this time (ISO 8601)."),
]


class _StaffOnly:
    scope_area = "phone"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        require_staff(request)


class CallViewSet(_StaffOnly, viewsets.ReadOnlyModelViewSet[Call]):
    serializer_class = CallSerializer
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[Call]:
        calls = Call.objects.select_related(
            "organization", "caller", "case", "answered_by"
        ).prefetch_related("legs__person")
        return _since(self.request, _organization(self.request, calls), "started_at")

    def get_object(self) -> Call:
        key = self.kwargs.get("pk", "")
        call = self.get_queryset().filter(pk=int(key)).first() if str(key).isdigit() else None
        if call is None:
            raise exceptions.NotFound("No such call.")
        return call

    @extend_schema(parameters=FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class FeeViewSet(_StaffOnly, viewsets.ReadOnlyModelViewSet[Fee]):
    serializer_class = FeeSerializer
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[Fee]:
        fees = Fee.objects.select_related("organization", "charged_by")
        return _since(self.request, _organization(self.request, fees), "charged_at")

    def get_object(self) -> Fee:
        key = self.kwargs.get("pk", "")
        fee = self.get_queryset().filter(pk=int(key)).first() if str(key).isdigit() else None
        if fee is None:
            raise exceptions.NotFound("No such fee.")
        return fee

    @extend_schema(parameters=FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
