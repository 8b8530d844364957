"""/api/v1/cases/: the cases a token's owner may see, as the portal or the desk shows them.

Every read goes through ``cases.access`` (the tenant rule: a customer sees their own
organization's cases and the public part of each timeline; anything else is a 404), and
every change through ``cases.services``, with the rules the portal and the desk follow.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.api.auth import require_staff
from casedesk.api.idempotency import idempotent
from casedesk.api.problems import refused
from casedesk.cases import services
from casedesk.cases.access import case_for_user, cases_visible_to, timeline_for
from casedesk.cases.models import Case, Channel, Event, Priority, Status

# ---- Shapes ---------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer[User]):
    email = serializers.EmailField()
    name = serializers.CharField(source="full_name")


class OrganizationRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CaseSerializer(serializers.Serializer[Case]):
    reference = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    priority = serializers.CharField(source="priority.name")
    critical = serializers.BooleanField(source="priority.is_critical")
    characteristics = serializers.CharField()
    organization = OrganizationRefSerializer()
    requester = PersonSerializer()
    assignee = PersonSerializer(allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    opened_at = serializers.DateTimeField()
    first_response_due = serializers.DateTimeField()
    first_responded_at = serializers.DateTimeField(allow_null=True)
    first_response_breached = serializers.BooleanField()
    resolution_due = serializers.DateTimeField(allow_null=True)
    resolution_breached = serializers.BooleanField()
    next_due = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    unverified_sender = serializers.BooleanField()
    url = serializers.SerializerMethodField()

    def get_url(self, case: Case) -> str:
        """The page a person opens: the desk's for staff, the portal's for customers."""
        staff = self.context.get("staff", False)
        return reverse("desk:case" if staff else "portal:case", args=[case.reference])

    def to_representation(self, case: Case) -> dict[str, Any]:
        data = super().to_representation(case)
        if not self.context.get("staff", False):
            data["assignee"] = None  # who works it is the desk's business
        return data


class CaseDetailSerializer(CaseSerializer):
    description = serializers.CharField()
    business_impact = serializers.CharField()


class AttachmentSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, attachment: Any) -> str:
        return reverse(
            "case_file", args=[attachment.case.reference, attachment.pk, attachment.name]
        )


class EventSerializer(serializers.Serializer[Event]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    public = serializers.BooleanField()
    author = PersonSerializer(allow_null=True)
    body = serializers.CharField()
    old_value = serializers.CharField()
    new_value = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()
    unverified_sender = serializers.BooleanField()
    attachments = AttachmentSerializer(many=True)


class Text(serializers.CharField):
    """Text, and only text: a JSON number or list is refused, not turned into words."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class ReplyInput(serializers.Serializer[Any]):
    body = Text(max_length=100_000, trim_whitespace=False)
    status = serializers.ChoiceField(
        choices=Status.choices, required=False, help_text="Staff only: set it in the same step."
    )


class NoteInput(serializers.Serializer[Any]):
    body = Text(max_length=100_000, trim_whitespace=False)


class StatusInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Status.choices)
    reason = Text(required=False, default="", allow_blank=True, max_length=2000)


class PriorityInput(serializers.Serializer[Any]):
    priority = Text(max_length=100, help_text="The priority's name.")
    reason = Text(max_length=2000, help_text="Why; the customer sees it.")
    characteristics = Text(
        required=False, default="", allow_blank=True, max_length=3, help_text="Critical: a, b, c"
    )
    business_impact = Text(required=False, default="", allow_blank=True, max_length=10_000)


class AssignInput(serializers.Serializer[Any]):
    assignee = serializers.EmailField(allow_null=True, help_text="An agent's address, or null.")


# ---- Views ----------------------------------------------------------------------------


class NewestFirst(CursorPagination):
    """Cursor pages: stable while cases are opened meanwhile (no page shows a case twice)."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


LIST_FILTERS = [
    OpenApiParameter("status", str, description="One or more, comma-separated: new,open,..."),
    OpenApiParameter("priority", str, description="Priority names, comma-separated."),
    OpenApiParameter("organization", int, description="Staff only: an organization's id."),
    OpenApiParameter("assignee", str, description="Staff only: me, none, or an email address."),
    OpenApiParameter("channel", str, description="portal, email, phone or chat."),
    OpenApiParameter(
        "updated_since", OpenApiTypes.DATETIME, description="Changed at or after (ISO 8601)."
    ),
]


class CaseViewSet(viewsets.GenericViewSet[Case]):
    scope_area = "cases"
    lookup_field = "reference"
    # Anything up to the next slash: the view says "No such case." as a problem document
    # for what names none, rather than the URL resolver's HTML 404.
    lookup_value_regex = r"[^/]+"
    pagination_class = NewestFirst
    serializer_class = CaseSerializer

    def _staff(self) -> bool:
        return staff_member(self.request.user) is not None

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "staff": self._staff()}

    def get_queryset(self) -> QuerySet[Case]:
        return cases_visible_to(self.request.user).select_related(
            "priority", "organization", "requester", "assignee"
        )

    def get_object(self) -> Case:
        try:
            return case_for_user(self.request.user, self.kwargs["reference"])
        except Http404:
            raise exceptions.NotFound("No such case.") from None

    def _filtered(self, cases: QuerySet[Case]) -> QuerySet[Case]:
        params = self.request.query_params
        errors: dict[str, str] = {}
        if statuses := _split(params.get("status", "")):
            unknown = sorted(set(statuses) - set(Status.values))
            if unknown:
                errors["status"] = (
                    f"unknown status {unknown[0]!r}; one of {', '.join(Status.values)}"
                )
            cases = cases.filter(status__in=statuses)
        if priorities := _split(params.get("priority", "")):
            cases = cases.filter(priority__name__in=priorities)
        if channels := _split(params.get("channel", "")):
            cases = cases.filter(channel__in=channels)
        if since := params.get("updated_since", ""):
            at = parse_datetime(since)
            if at is None or at.tzinfo is None:
                errors["updated_since"] = "give an ISO 8601 time with its offset: 2026-12-01T09:00Z"
            else:
                cases = cases.filter(updated_at__gte=at)
        staff_only = {"organization", "assignee"} & set(params)
        if staff_only and not self._staff():
            errors[sorted(staff_only)[0]] = "only support staff filter on this"
        elif organization := params.get("organization", ""):
            if not organization.isdigit():
                errors["organization"] = "an organization's id, a number"
            else:
                cases = cases.filter(organization_id=int(organization))
        if (assignee := params.get("assignee", "")) and self._staff():
            if assignee == "me":
                cases = cases.filter(assignee_id=self.request.user.pk)
            elif assignee == "none":
                cases = cases.filter(assignee__isnull=True)
            else:
                cases = cases.filter(assignee__email__iexact=assignee)
        if errors:
            raise exceptions.ValidationError(errors)
        return cases

    @extend_schema(parameters=LIST_FILTERS, responses=CaseSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self._filtered(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses=CaseDetailSerializer)
    def retrieve(self, request: Request, reference: str) -> Response:
        case = self.get_object()
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data)

    @extend_schema(responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, reference: str) -> Response:
        """The case's timeline as this person may see it (customers: the public part)."""
        case = self.get_object()
        events = timeline_for(request.user, case)
        for event in events:
            for attachment in event.attachments.all():
                attachment.case = case  # no query per file for its URL
        return Response([EventSerializer(event).data for event in events])

    def _input(self, kind: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        given = kind(data=self.request.data)
        given.is_valid(raise_exception=True)
        return dict(given.validated_data)

    def _person(self) -> User:
        person = self.request.user
        assert isinstance(person, User)  # the token's owner
        return person

    def _staff_only(self) -> None:
        require_staff(self.request)

    def _answer(self, case: Case, status: int = 200) -> Response:
        fresh = case_for_user(self.request.user, case.reference)
        return Response(
            CaseDetailSerializer(fresh, context=self.get_serializer_context()).data, status=status
        )

    @extend_schema(request=ReplyInput, responses={201: EventSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def replies(self, request: Request, reference: str) -> Response:
        """A public reply: the customer sees it (and is mailed); staff may set the status."""
        case = self.get_object()
        data = self._input(ReplyInput)
        try:
            event = services.add_reply(
                case, self._person(), data["body"], status=data.get("status")
            )
        except services.CaseError as exc:
            raise refused(exc.errors) from exc
        return Response(EventSerializer(event).data, status=201)

    @extend_schema(request=NoteInput, responses={201: EventSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def notes(self, request: Request, reference: str) -> Response:
        """An internal note (staff only: customers never see it)."""
        self._staff_only()
        case = self.get_object()
        data = self._input(NoteInput)
        try:
            event = services.add_note(case, self._person(), data["body"])
        except services.CaseError as exc:
            raise refused(exc.errors) from exc
        return Response(EventSerializer(event).data, status=201)

    @extend_schema(request=StatusInput, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def status(self, request: Request, reference: str) -> Response:
        self._staff_only()
        case = self.get_object()
        data = self._input(StatusInput)
        try:
            case = services.change_status(case, data["status"], self._person(), data["reason"])
        except services.CaseError as exc:
            raise refused(exc.errors) from exc
        return self._answer(case)

    @extend_schema(request=PriorityInput, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def priority(self, request: Request, reference: str) -> Response:
        """Move to another priority, with the reason the customer sees; a critical case
        moving down is a downgrade (counted against the organization)."""
        self._staff_only()
        case = self.get_object()
        data = self._input(PriorityInput)
        chosen = Priority.objects.filter(name__iexact=data["priority"].strip()).first()
        if chosen is None:
            names = ", ".join(Priority.objects.order_by("position").values_list("name", flat=True))
            raise exceptions.ValidationError(
                {"priority": [f"No priority is named so; one of {names}."]}
            )
        try:
            if case.priority.is_critical and not chosen.is_critical:
                case = services.downgrade(case, chosen, self._person(), data["reason"])
            else:
                case = services.change_priority(
                    case,
                    chosen,
                    self._person(),
                    data["reason"],
                    characteristics=data["characteristics"],
                    business_impact=data["business_impact"],
                )
        except services.CaseError as exc:
            raise refused(exc.errors) from exc
        return self._answer(case)

    @extend_schema(request=AssignInput, responses=CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def assign(self, request: Request, reference: str) -> Response:
        self._staff_only()
        case = self.get_object()
        data = self._input(AssignInput)
        assignee = None
        if data["assignee"] is not None:
            assignee = User.objects.filter(email__iexact=data["assignee"]).first()
            if assignee is None:
                raise exceptions.ValidationError({"assignee": ["No one has that address."]})
        try:
            case = services.assign(case, assignee, self._person())
        except services.CaseError as exc:
            raise refused(exc.errors) from exc
        return self._answer(case)
