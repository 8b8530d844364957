"""Which pages may open a chat socket: casedesk's own, and no other.

A browser sends the visitor's cookie with a WebSocket handshake from any page, so the
``Origin`` header is the only thing between another site and the visitor's chat.
Channels' ``AllowedHostsOriginValidator`` compares the origin's host name only, so a
page on another port of an allowed host (or ``http://`` beside ``https://``) passed.
Here the whole origin (scheme, host and port) must be casedesk's: ``CASEDESK_BASE_URL``'s
(``CSRF_TRUSTED_ORIGINS`` holds it). Over https (production) nothing else is: behind a
TLS-terminating proxy the handshake reaches casedesk as plain ``ws``, so its own scheme
says nothing about the page's. Over plain http (development, test servers on any port)
the origin the handshake itself was made to (its ``Host`` header, if allowed) counts too.

The vendor's product (``CASEDESK_CHAT_EMBED_ORIGINS``) gets no exception: its widget is a
frame of casedesk's page, whose socket comes from casedesk's own origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def own_origins(scope: dict[str, Any]) -> set[str]:
    origins = {*settings.CSRF_TRUSTED_ORIGINS, _origin_of(settings.BASE_URL)}
    if any(origin.startswith("https://") for origin in origins):
        return origins
    headers = dict(scope.get("headers") or [])
    try:
        host = headers.get(b"host", b"").decode("ascii").lower()
    except UnicodeDecodeError:
        return origins
    domain, _ = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        origins.add(f"{scheme}://{host}")
    return origins


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(scope: dict[str, Any]) -> bool:
    origin = dict(scope.get("headers") or []).get(b"origin")
    if origin is None:
        return False
    try:
        text = origin.decode("ascii").lower()
    except UnicodeDecodeError:
        return False
    return text in own_origins(scope)


class SameOriginValidator:
    """ASGI middleware for the WebSocket side: a handshake from any other origin is
    denied (HTTP 403) before the session is read."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
