"""Refuse a request body larger than any page accepts, before Django reads it.

Django's ASGI handler writes the whole body to a temporary file before any view,
middleware or upload handler runs, so a limit enforced inside Django comes too
late to protect the disk: a stranger could send gigabytes to any URL. This ASGI
wrapper answers 413 as soon as the declared Content-Length, or the bytes
actually received, pass ``limit()``: the largest upload a reply may carry
(``ATTACHMENT_MAX_FILES`` x ``ATTACHMENT_MAX_BYTES``) plus the form fields
(``DATA_UPLOAD_MAX_MEMORY_SIZE``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

logger = logging.getLogger("casedesk.core")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments its own way


def upload_ceiling() -> int:
    """The most file bytes one request may carry: as many files as a reply takes, each at most
    the per-file size."""
    return int(settings.ATTACHMENT_MAX_BYTES * settings.ATTACHMENT_MAX_FILES)


def limit() -> int:
    """The largest body: the upload ceiling plus the form fields."""
    return upload_ceiling() + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ceiling = limit()
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > ceiling:
            await self._refuse(scope, send, ceiling)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > ceiling:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send, ceiling)

    async def _refuse(self, scope: Scope, send: Send, ceiling: int) -> None:
        logger.warning(
            "refused a request body over %d bytes: %s %s",
            ceiling,
            scope.get("method"),
            scope.get("path"),
        )
        body = (
            f"The request is too large: at most {ceiling // 2**20} MB may be sent at once. "
            "Attach fewer or smaller files.\n"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
