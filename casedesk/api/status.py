"""/api/v1/status/: the status page's write side for scripts and monitoring, as
Statuspage's REST API has it (incidents, their updates, maintenance), over
``status.services``. Reads answer in the same shapes as the public ``/api/v2/`` documents
(``status.api``), so one client reads both."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casedesk.api.auth import require_staff
from casedesk.api.idempotency import idempotent
from casedesk.api.problems import refused
from casedesk.status import api as documents
from casedesk.status import services
from casedesk.status.models import Component, ComponentStatus, Impact, Incident


def _components(ids: list[str]) -> list[Component]:
    found = {c.public_id: c for c in Component.objects.filter(public_id__in=ids)}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise exceptions.ValidationError(
            {"components": [f"No component has the id {unknown[0]!r}."]}
        )
    return [found[i] for i in ids]


class ComponentStatuses(serializers.DictField):
    """``{"<component id>": "major_outage", ...}``: the components this update sets."""

    child = serializers.ChoiceField(choices=ComponentStatus.choices)


class IncidentInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    impact = serializers.ChoiceField(
        choices=[c for c in Impact.choices if c[0] != Impact.MAINTENANCE], default=Impact.MINOR
    )
    status = serializers.CharField(max_length=20, default="investigating")
    body = serializers.CharField(max_length=20_000)
    components = ComponentStatuses(required=False, default=dict)
    notify = serializers.BooleanField(default=True)


class UpdateInput(serializers.Serializer[Any]):
    status = serializers.CharField(max_length=20)
    body = serializers.CharField(max_length=20_000)
    components = ComponentStatuses(required=False, default=dict)
    notify = serializers.BooleanField(default=True)


class MaintenanceInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20_000)
    components = serializers.ListField(child=serializers.CharField(max_length=12), default=list)
    scheduled_for = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty: unscheduled, from now."
    )
    scheduled_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    notify = serializers.BooleanField(default=True)


def _posting(data: dict[str, Any]) -> services.Posting:
    chosen = data["components"]
    components = {c.public_id: c for c in _components(list(chosen))}
    return services.Posting(
        data["status"],
        data["body"],
        {components[key]: value for key, value in chosen.items()},
        data["notify"],
    )


def _incident(public_id: str) -> Incident:
    incident = documents.with_timeline(Incident.objects.filter(public_id=public_id)).first()
    if incident is None:
        raise exceptions.NotFound("No such incident or maintenance.")
    return incident


def _answer(public_id: str, status: int = 200) -> Response:
    return Response(documents.incident_json(_incident(public_id)), status=status)


class Incidents(APIView):
    """Open a new incident (its first update sets the components' statuses)."""

    scope_area = "status"

    @extend_schema(request=IncidentInput, responses={201: dict}, operation_id="incident_create")
    @idempotent
    def post(self, request: Request) -> Response:
        person = require_staff(request)
        given = IncidentInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            made = services.create_incident(
                services.NewIncident(data["name"], data["impact"], _posting(data)), person
            )
        except services.StatusError as exc:
            raise refused(exc.errors) from exc
        return _answer(made.public_id, status=201)


class IncidentDetail(APIView):
    """One incident or maintenance, with its updates, as /api/v2/ shows it."""

    scope_area = "status"

    @extend_schema(responses=dict, operation_id="incident_read")
    def get(self, request: Request, public_id: str) -> Response:
        return _answer(_incident(public_id).public_id)


class Updates(APIView):
    """Post an update to an incident or maintenance (status, text, component statuses)."""

    scope_area = "status"

    @extend_schema(request=UpdateInput, responses={201: dict}, operation_id="incident_update")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        person = require_staff(request)
        incident = _incident(public_id)
        given = UpdateInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            services.post_update(incident, _posting(given.validated_data), person)
        except services.StatusError as exc:
            raise refused(exc.errors) from exc
        return _answer(public_id, status=201)


class Maintenance(APIView):
    """Schedule maintenance (or start unscheduled maintenance now)."""

    scope_area = "status"

    @extend_schema(
        request=MaintenanceInput, responses={201: dict}, operation_id="maintenance_create"
    )
    @idempotent
    def post(self, request: Request) -> Response:
        person = require_staff(request)
        given = MaintenanceInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            made = services.create_maintenance(
                services.NewMaintenance(
                    name=data["name"],
                    body=data["body"],
                    components=_components(data["components"]),
                    scheduled_for=data["scheduled_for"],
                    scheduled_until=data["scheduled_until"],
                    notify=data["notify"],
                ),
                person,
            )
        except services.StatusError as exc:
            raise refused(exc.errors) from exc
        return _answer(made.public_id, status=201)


class ComponentList(APIView):
    """The components and their statuses, as /api/v2/components.json."""

    scope_area = "status"

    @extend_schema(
        responses=serializers.ListSerializer(child=serializers.DictField()),
        operation_id="components",
    )
    def get(self, request: Request) -> Response:
        return Response(documents.components_json(documents.the_page().public_id))
