"""API views: thin, over the services of the app that owns each thing."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casedesk.api.models import ApiToken


class TokenSerializer(serializers.Serializer[ApiToken]):
    prefix = serializers.CharField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer[object]):
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()
    organization = serializers.CharField(allow_null=True)
    token = TokenSerializer()


class Me(APIView):
    """Who this token acts as, and what it may do."""

    @extend_schema(responses=MeSerializer, operation_id="me")
    def get(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, ApiToken)  # the permission classes let only tokens in
        person = token.person
        return Response(
            MeSerializer(
                {
                    "email": person.email,
                    "name": person.full_name,
                    "role": person.role,
                    "organization": person.organization.name if person.organization else None,
                    "token": token,
                }
            ).data
        )


class NotFound(APIView):
    """Any other URL under /api/v1/: a 404 problem document, not the site's HTML page."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes: list[type] = []
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound("No such API endpoint; /api/v1/docs/ lists them.")
