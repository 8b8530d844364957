"""Chat fixtures: an open support day, an agent on duty, and WebSocket clients that log in
with a real session cookie through the whole ASGI application (origin check included)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from casedesk.core.tests.waiting import wait_until

CT = ZoneInfo("America/Chicago")
# A Wednesday morning: support is open 07:00-19:00 Chicago time.
WEDNESDAY_10AM = datetime(2026, 11, 25, 10, 0, tzinfo=CT)
SATURDAY_10AM = datetime(2026, 11, 28, 10, 0, tzinfo=CT)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture
def chat_db(
    transactional_db: None, calendars: None, priorities: Any, settings: Any, tmp_path: Any
) -> None:
    """Real commits (consumers reach the database from their own threads), the shipped
    calendars and priorities, files in the test's folder, a fresh in-memory layer and no
    open/offline answer kept from another test (tests travel to the same instants)."""
    from django.core.cache import cache

    settings.MEDIA_ROOT = tmp_path / "files"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    cache.clear()


@pytest.fixture
def support_open() -> Iterator[None]:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        yield


@pytest.fixture
def on_duty(chat_db: None, agent: Any, support_open: None) -> Any:
    """The agent's console is open and they take chats."""
    from casedesk.chat import services

    services.heartbeat(agent, available=True)
    return agent


@pytest.fixture
def chat(on_duty: Any, alice: Any) -> Any:
    """Alice's chat, accepted by the agent on duty."""
    from casedesk.chat import services

    session = services.start(alice)
    services.accept(session, on_duty)
    return session


@pytest.fixture
def second_agent(db: None) -> Any:
    from casedesk.accounts.models import User
    from conftest import PASSWORD

    return User.objects.create_user(
        "kim@example.com", PASSWORD, role="agent", full_name="Kim Agent"
    )


def cookie_for(user: Any) -> tuple[bytes, bytes]:
    client = logged_in(user)
    value = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={value}".encode())


# How long a test waits for something that should happen at once; only a machine stalled
# far beyond any load reaches it (a test never waits it out when all is well).
PATIENCE = 60.0


class PatientCommunicator(WebsocketCommunicator):  # type: ignore[misc]
    """Channels' test socket, waiting up to PATIENCE (not 1 s) to connect and to hear:
    on a loaded machine a handshake alone took longer than a second."""

    async def connect(self, timeout: float = PATIENCE) -> Any:
        return await super().connect(timeout)

    async def receive_from(self, timeout: float = PATIENCE) -> Any:
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout: float = PATIENCE) -> Any:
        return await super().receive_json_from(timeout)


async def communicator(path: str, user: Any = None, origin: tuple[bytes, bytes] = ORIGIN) -> Any:
    from casedesk.asgi import application

    headers = [origin]
    if user is not None:
        headers.append(await database_sync_to_async(cookie_for)(user))
    return PatientCommunicator(application, path, headers=headers)


async def connected(path: str, user: Any) -> tuple[Any, dict[str, Any]]:
    """A socket that was accepted, and the first thing it heard (the history)."""
    socket = await communicator(path, user)
    ok, code = await socket.connect()
    assert ok, f"refused with {code}"
    return socket, await socket.receive_json_from()


async def next_of(socket: Any, kind: str, timeout: float = PATIENCE) -> dict[str, Any]:
    """The next event of ``kind``, skipping others (state and typing events interleave)."""
    while True:
        event: dict[str, Any] = await socket.receive_json_from(timeout=timeout)
        if event["type"] == kind:
            return event


@pytest.fixture
def polls_waiting(monkeypatch: Any) -> Callable[[int], None]:
    """``polls_waiting(n)`` returns once ``n`` long polls have looked in the database
    (and let go of its connection): from then on, each waits on the channel layer, where
    it is subscribed since before it looked, so nothing sent after this is missed."""
    from casedesk.chat import views

    looked: list[int] = []
    real = views._poll_once

    def counted(*args: Any) -> Any:
        try:
            return real(*args)
        finally:
            looked.append(1)

    monkeypatch.setattr(views, "_poll_once", counted)

    def wait(n: int) -> None:
        wait_until(lambda: len(looked) >= n, PATIENCE, f"{n} long polls to wait")

    return wait


def logged_in(user: Any, csrf: bool = False) -> Client:
    """A test client logged in as ``user`` now (under a travelled clock: at that time)."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@contextlib.contextmanager
def serve_asgi(**options: Any) -> Iterator[str]:
    """``casedesk.asgi`` served by uvicorn (WebSockets included) in a thread of this
    process, on the test database; yields its base URL. Options go to ``uvicorn.Config``."""
    import uvicorn

    from casedesk.core.tests.embedded import free_port

    port = free_port()
    config = uvicorn.Config(
        "casedesk.asgi:application",
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, PATIENCE, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def send_through(base: str, chat_pk: int, user: Any, body: str) -> None:
    """``user`` writes ``body`` in the chat through the server at ``base`` (as the console
    does), so that the server's own channel layer announces it to its waiting polls."""
    import urllib.parse
    import urllib.request

    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    cookie = cookie_for(user)[1].decode()
    send = urllib.request.Request(
        f"{base}/chat/{chat_pk}/send",
        data=urllib.parse.urlencode({"body": body}).encode(),
        headers={
            "Cookie": f"{cookie}; {django_settings.CSRF_COOKIE_NAME}={token}",
            "X-CSRFToken": token,
            "Origin": base,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(send, timeout=PATIENCE) as response:
        assert response.status == 200


# The run's own Redis (REDIS_URL, as on the PostgreSQL pass of .ci/run), else database 14.
REDIS_URL = django_settings.REDIS_URL or "redis://127.0.0.1:6379/14"


def use_redis_layer(settings: Any, name: str) -> None:
    """Switch the test to the Redis channel layer (as with REDIS_URL), or skip it where no
    Redis runs. ``name`` keeps its keys apart from other tests'."""
    import redis

    from casedesk.settings import redis_channel_layer

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one)")
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(REDIS_URL, f"casedesk-test-{name}-{id(settings)}")
    }
