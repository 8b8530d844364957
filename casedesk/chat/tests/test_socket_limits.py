"""CASEDESK_CHAT_SOCKETS_PER_USER: one person's open sockets are capped (tabs and
reconnects fit; a script opening hundreds does not), and a closed socket frees its place."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync

from casedesk.chat import consumers
from casedesk.chat.tests.conftest import communicator, connected

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


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
