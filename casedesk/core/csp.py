"""The Content-Security-Policy of every HTML page casedesk serves.

One strict policy, so an injected ``<script>`` or ``style`` attribute, a plug-in object, a
``<base href>`` or a form posting elsewhere does nothing even if a template ever forgets
to escape something:

- everything from our own origin only (``default-src 'self'``), no inline script and no
  inline style: templates use ``static`` files and classes, never ``<script>`` bodies,
  ``on*=`` handlers or ``style=`` attributes (scripts may still set ``element.style``,
  which the policy allows);
- ``img-src 'self' data:`` (small inline icons), ``object-src 'none'``,
  ``base-uri 'none'``, ``form-action 'self'``, ``frame-ancestors 'none'``
  (``X-Frame-Options: DENY`` says the same to older browsers);
- ``connect-src 'self'`` and the WebSocket origin of ``CASEDESK_BASE_URL`` (chat);
- a ``STATIC_URL`` on another origin (a CDN) is allowed where static files are used:
  scripts, styles, images and fonts.

A page that truly needs an inline script or style uses ``{{ request.csp_nonce }}`` on that
element: the nonce is made on first use, and only then added to ``script-src`` and
``style-src``.

A view may set its own header. One that is a whole policy of its own (it has
``default-src`` or ``sandbox``: case files, a message's raw bytes) is left as it is; one
that only states some directives (``/chat/embed/``: ``frame-ancestors <origins>``) has
them take the place of the site's, and the rest of the site policy is added.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

HEADER = "Content-Security-Policy"
# Directives that make a view's header a complete policy, which we never add to.
_COMPLETE = {"default-src", "sandbox"}


def websocket_origin(base_url: str) -> str:
    """``wss://desk.example.com`` for ``https://desk.example.com/support``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}" if parts.netloc else ""


def static_origin(static_url: str) -> str:
    """``https://cdn.example.com`` for a ``STATIC_URL`` on another origin, else ``""``."""
    parts = urlsplit(static_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def site_policy(nonce: str = "") -> dict[str, list[str]]:
    """The site's directives, in the order they are sent."""
    own = ["'self'"]
    cdn = static_origin(settings.STATIC_URL or "")
    if cdn:
        own.append(cdn)
    scripts = list(own)
    styles = list(own)
    if nonce:
        scripts.append(f"'nonce-{nonce}'")
        styles.append(f"'nonce-{nonce}'")
    connect = ["'self'"]
    socket = websocket_origin(settings.BASE_URL)
    if socket:
        connect.append(socket)
    return {
        "default-src": list(own),
        "script-src": scripts,
        "style-src": styles,
        "img-src": [*own, "data:"],
        "connect-src": connect,
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def parse(header: str) -> dict[str, list[str]]:
    """``"a x y; b"`` -> ``{"a": ["x", "y"], "b": []}`` (the first of a repeated directive
    counts, as in browsers)."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


def serialize(directives: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())


def policy_for(view_header: str, nonce: str = "") -> str:
    """The header a response goes out with, given what its view set (``""``: nothing)."""
    own = parse(view_header)
    if own.keys() & _COMPLETE:
        return view_header
    return serialize({**site_policy(nonce), **own})


def _is_html(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip().lower() == "text/html"


class ContentSecurityPolicyMiddleware:
    """Sends the policy with every HTML response (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = SimpleLazyObject(lambda: secrets.token_urlsafe(18))
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if not _is_html(response):
            return response
        used = nonce._wrapped is not empty  # type: ignore[attr-defined]
        response[HEADER] = policy_for(response.get(HEADER, ""), str(nonce) if used else "")
        return response
