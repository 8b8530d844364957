"""CASEDESK_CHAT_SOCKETS_PER_USER: one person's open sockets and waiting long polls are
capped (tabs and reconnects fit; a script opening hundreds does not), and a closed socket,
a failed one or an answered poll frees its place."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from casedesk.chat import consumers
from casedesk.chat.models import ChatMessage
from casedesk.chat.tests.conftest import (
    PATIENCE,
    communicator,
    connected,
    cookie_for,
    send_through,
    serve_asgi,
)
from casedesk.core.tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")

# A real Redis channel layer whose server is not there (port 1: connection refused).
REDIS_DOWN = "redis://127.0.0.1:1/0"


def test_a_customer_past_the_limit_is_refused_and_a_closed_socket_frees_a_place(
    chat: Any, alice: Any, on_duty: Any, settings: Any
) -> None:
    settings.CHAT_SOCKETS_PER_USER = 3

    async def scenario() -> None:
        held = [(await connected(f"/ws/chat/{chat.pk}/", alice))[0] for _ in range(3)]
        assert consumers.open_sockets(alice.pk) == 3
        extra = await communicator(f"/ws/chat/{chat.pk}/", alice)
        assert await extra.connect() == (False, consumers.TOO_MANY)
        # Another person is not affected by Alice's sockets.
        agent_socket, history = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        assert history["type"] == "history"
        await held[0].disconnect()
        again, history = await connected(f"/ws/chat/{chat.pk}/", alice)
        assert history["type"] == "history"
        for socket in [*held[1:], again, agent_socket]:
            await socket.disconnect()
        assert consumers.open_sockets(alice.pk) == 0
        assert consumers.open_sockets(on_duty.pk) == 0

    async_to_sync(scenario)()


def test_the_desk_socket_counts_against_the_agents_limit(on_duty: Any, settings: Any) -> None:
    settings.CHAT_SOCKETS_PER_USER = 1

    async def scenario() -> None:
        desk = await communicator("/ws/desk/chat/", on_duty)
        assert (await desk.connect())[0]
        second = await communicator("/ws/desk/chat/", on_duty)
        assert await second.connect() == (False, consumers.TOO_MANY)
        await desk.disconnect()
        assert consumers.open_sockets(on_duty.pk) == 0

    async_to_sync(scenario)()


def test_refused_handshakes_count_nothing(chat: Any, bob: Any) -> None:
    """Bob may not see Alice's chat: refused at the handshake, and no place is taken."""

    async def scenario() -> None:
        for _ in range(3):
            socket = await communicator(f"/ws/chat/{chat.pk}/", bob)
            assert await socket.connect() == (False, consumers.REFUSED)
        assert consumers.open_sockets(bob.pk) == 0

    async_to_sync(scenario)()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("path", ["chat", "desk"])
def test_a_socket_whose_setup_fails_gives_its_place_back(
    chat: Any, alice: Any, on_duty: Any, settings: Any, path: str
) -> None:
    """Redis away for a moment: the socket was accepted and counted, then subscribing to
    its group fails. The socket is closed (1011), the error goes on to the server, and
    its place is free again: failed handshakes never lock a person out of sockets."""
    from casedesk.settings import redis_channel_layer

    settings.CHAT_SOCKETS_PER_USER = 3
    settings.CHANNEL_LAYERS = {"default": {**redis_channel_layer(REDIS_DOWN, "down")}}
    person, url = (alice, f"/ws/chat/{chat.pk}/") if path == "chat" else (on_duty, "/ws/desk/chat/")
    crashed: list[str] = []
    closed: list[int] = []

    async def scenario() -> None:
        for _ in range(4):  # one more than the cap
            socket = await communicator(url, person)
            assert (await socket.connect(timeout=10))[0]
            closed.append((await socket.receive_output(timeout=10))["code"])
            try:
                await socket.wait(timeout=10)
            except Exception as exc:
                crashed.append(type(exc).__name__)

    try:
        async_to_sync(scenario)()
        held = consumers.open_sockets(person.pk)
    finally:
        consumers._open_sockets.pop(person.pk, None)  # other tests share this process
    assert closed == [consumers.INTERNAL_ERROR] * 4
    assert crashed == ["ConnectionError"] * 4
    assert held == 0


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_waiting_long_polls_take_places_too(
    chat: Any, alice: Any, on_duty: Any, settings: Any
) -> None:
    """Long polls are held open like sockets: past the cap a poll is answered 429 at once
    (nothing read), and an answered poll gives its place back."""
    settings.CHAT_SOCKETS_PER_USER = 2
    settings.CHAT_POLL_SECONDS = 3600  # they wait until the agent writes
    last = ChatMessage.objects.filter(session=chat).latest("pk").pk
    cookie = cookie_for(alice)[1].decode()
    answers: list[int] = []

    with serve_asgi() as base:

        def poll(after: int = last) -> int:
            request = urllib.request.Request(
                f"{base}/chat/{chat.pk}/poll?after={after}", headers={"Cookie": cookie}
            )
            try:
                with urllib.request.urlopen(request, timeout=PATIENCE) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                assert error.code != 429 or "Too many" in json.loads(error.read())["error"]
                return int(error.code)

        threads = [threading.Thread(target=lambda: answers.append(poll())) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_until(lambda: consumers.open_sockets(alice.pk) >= 2, PATIENCE, "two polls to wait")
        assert consumers.open_sockets(alice.pk) == 2
        assert poll() == 429
        assert answers == []  # the two are still waiting
        send_through(base, chat.pk, on_duty, "Answering both")
        for thread in threads:
            thread.join(timeout=PATIENCE)
        assert answers == [200, 200]
        assert consumers.open_sockets(alice.pk) == 0
        assert poll(after=0) == 200
    assert consumers.open_sockets(alice.pk) == 0
