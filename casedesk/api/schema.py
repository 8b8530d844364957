"""How the OpenAPI schema describes casedesk's authentication (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "casedesk.api.auth.BearerToken"
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token: /accounts/tokens/ or `casedesk tokens create`.",
        }


PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem document (api/problems.py).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["field", "detail"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
# The refusals any operation may give (api/problems.py), and when.
REFUSALS = {
    "400": "The request has errors: `errors` names each field.",
    "401": "No token, or one that is unknown, expired or revoked.",
    "403": "The token's scopes or its owner's role do not allow this.",
    "404": "No such thing, or not one this token's owner may see.",
    "409": "A request with this Idempotency-Key is still running.",
    "422": "This Idempotency-Key was used for another request.",
    "429": "Over the token's rate: try again after Retry-After seconds.",
}


def problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """A drf-spectacular post-processing hook: every operation documents the problem
    documents it may answer with, so a client (and schemathesis) knows them."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in REFUSALS.items():
                if method == "get" and status in ("409", "422"):
                    continue  # only POSTs take an Idempotency-Key
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    },
                )
    return result
