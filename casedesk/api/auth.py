"""How the API knows who calls: ``Authorization: Bearer <token>``, and the token's scopes.

Only tokens: no session cookie, so no request from a page of another site can use a
logged-in visitor's session (and the API needs no CSRF token).
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.api import policies, services
from casedesk.api.models import ApiToken
from casedesk.core.ratelimit import attempt

# Methods that only read: the area's ``read`` scope; everything else its ``write`` scope.
READS = ("GET", "HEAD", "OPTIONS")


class BearerToken(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None  # no credentials: a 401 from the permission check
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>', one word after Bearer."
            )
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not one of ours.") from None
        row = services.authenticate(token, ip=request.META.get("REMOTE_ADDR"))
        if row is None:
            raise exceptions.AuthenticationFailed(
                "The token is unknown, expired or revoked, or its owner cannot log in."
            )
        return row.person, row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="casedesk"'


class TokenScope(permissions.BasePermission):
    """A view names its area (``scope_area = "cases"``); the token needs its read or write
    scope. A view without an area only needs a live token."""

    message = "This token's scopes do not allow that."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False
        area = getattr(view, "scope_area", None)
        if area is None:
            return True
        needed = f"{area}:{'read' if request.method in READS else 'write'}"
        if needed in token.scopes:
            return True
        self.message = f"This token needs the {needed} scope."
        return False


class PerToken(throttling.BaseThrottle):
    """At most CASEDESK_RATE_API_REQUESTS requests per token (``api/policies.py``); over
    it a 429 whose ``Retry-After`` says when the next one is allowed."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # no token: refused before it could count
        decision = attempt(policies.REQUESTS_PER_TOKEN, token.prefix)
        if decision.retry_after is not None:
            self.retry_after = max(1.0, decision.retry_after.total_seconds())
        return decision.allowed

    def wait(self) -> float | None:
        return self.retry_after


def require_staff(request: Request) -> User:
    """The token's owner if they are support staff; else a 403 (a customer's token may hold
    a scope whose staff-only operations it still cannot use)."""
    person = staff_member(request.user)
    if person is None:
        raise exceptions.PermissionDenied("Only support staff can do that.")
    return person
