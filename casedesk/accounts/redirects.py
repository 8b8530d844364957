from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_target(request: HttpRequest, target: str | None) -> str | None:
    """A ``?next=`` target if it is a path on this site, else None.

    A path only: ``redirect("foo")`` would try to reverse a URL name (a 500),
    and another site's address would be an open redirect.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return target
