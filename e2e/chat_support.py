"""What the chat's browser tests share: casedesk served by uvicorn (WebSockets included),
browser pages in the support calendar's zone, and a way to call the chat's services from
a test while Playwright's sync API holds this thread's event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from casedesk.chat.tests.conftest import serve_asgi
from conftest import PASSWORD
from e2e.conftest import DESKTOP
from e2e.steps import log_in


@pytest.fixture
def chat_server(settings: Any, tmp_path: Path) -> Iterator[str]:
    """``casedesk.asgi`` on a free port of 127.0.0.1 (in-memory channel layer, files in
    the test's folder, no open/offline answer kept from another test); yields its base URL."""
    from django.core.cache import cache

    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with serve_asgi() as base:
        yield base


def chat_page(
    browser: Any,
    base: str = "",
    email: str = "",
    viewport: dict[str, int] = DESKTOP,
    **options: Any,
) -> Any:
    """A page in a browser context of its own (Chicago time), logged in as ``email`` if
    one is given."""
    context = browser.new_context(viewport=viewport, timezone_id="America/Chicago", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    if email:
        log_in(page, base, email, PASSWORD)
    return page


def in_thread(function: Any, *args: Any) -> Any:
    """Call ``function`` in a thread of its own: Playwright's sync API keeps an event loop
    in this one, where the services' broadcasts (async_to_sync) cannot run."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(function(*args))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert result, "the call did not finish"
    return result[0]
