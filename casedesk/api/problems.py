"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every refusal the API gives has ``type``, ``title``, ``status`` and ``detail``; a request
with bad fields adds ``errors``, one entry per message with the field it is about (``""``
for the request as a whole), so a client can show each next to its input::

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "reason: Say why the priority changes; the customer sees it.",
     "errors": [{"field": "reason", "detail": "Say why ..."}], "instance": "/api/v1/..."}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

CONTENT_TYPE = "application/problem+json"


def _flatten(data: Any, field: str = "") -> list[dict[str, str]]:
    """DRF's error data (dicts of lists, nested serializers, lists) as (field, message)."""
    if isinstance(data, dict):
        return [
            entry
            for key, value in data.items()
            for entry in _flatten(
                value,
                ""
                if key in ("non_field_errors", "detail")
                else (f"{field}.{key}" if field else str(key)),
            )
        ]
    if isinstance(data, list):
        return [entry for item in data for entry in _flatten(item, field)]
    return [{"field": field, "detail": str(data)}]


def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 (logged), never a traceback
    status = response.status_code
    errors = _flatten(response.data)
    first = errors[0] if errors else {"field": "", "detail": HTTPStatus(status).phrase}
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": f"{first['field']}: {first['detail']}" if first["field"] else first["detail"],
    }
    if status == 400:
        problem["errors"] = errors
    request = context.get("request")
    if request is not None:
        problem["instance"] = request.path
    response.data = problem
    response.content_type = CONTENT_TYPE
    return response


def refused(errors: Mapping[str, Sequence[str]]) -> ValidationError:
    """A service's refusal (``CaseError``, ``StatusError``: messages by field, "" for the
    request as a whole) as the 400 this module writes."""
    return ValidationError(
        {(field or "non_field_errors"): list(messages) for field, messages in errors.items()}
    )
