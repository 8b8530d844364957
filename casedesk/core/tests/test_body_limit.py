"""Oversized request bodies are refused with 413 before Django spools them to disk."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from casedesk.core.bodylimit import BodyLimit, limit


def http_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/portal/new/",
        "raw_path": b"/portal/new/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }


def call(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, bytes, int]:
    """Run one request; returns the status, the body and how many chunks the app read."""
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # In a thread of its own: a browser test may hold this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, read


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that reads the whole body and answers with its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    scope = http_scope([(b"content-length", str(limit() + 1).encode())])
    status, body, read = call(BodyLimit(echo_length), scope, [b"x" * 10])
    assert (status, read) == (413, 0)
    assert b"at most" in body and b"fewer or smaller files" in body


def test_a_body_without_a_length_is_cut_off_once_it_passes_the_limit(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    status, _, read = call(BodyLimit(echo_length), http_scope([]), [b"x" * 1000] * 10)
    assert status == 413
    assert read == 3  # 3,000 bytes were enough to know


def test_a_body_within_the_limit_reaches_the_app_whole(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    status, body, _ = call(BodyLimit(echo_length), http_scope([]), [b"x" * 1000, b"x" * 1500])
    assert (status, body) == (200, b"2500")


@pytest.mark.parametrize("length", [b"-5", b"abc", b""])
def test_a_garbage_length_is_not_trusted_the_bytes_are_counted(length, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    scope = http_scope([(b"content-length", length)])
    assert call(BodyLimit(echo_length), scope, [b"x" * 100])[:2] == (200, b"100")
    assert call(BodyLimit(echo_length), scope, [b"x" * 1000] * 3)[0] == 413


def test_the_served_application_is_behind_the_limit(settings):
    from casedesk.asgi import application

    settings.ATTACHMENT_MAX_BYTES = 1000
    scope = http_scope([(b"content-length", b"999999999999")])
    assert call(application, scope, [b""])[0] == 413
