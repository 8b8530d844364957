"""What a connected chat socket may still do: a socket outlives a logout, so every request
checks the login again; and "typing" is bounded, relayed only from the chat's own people."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from casedesk.chat import services
from casedesk.chat.models import ChatMessage
from casedesk.chat.tests.conftest import connected, next_of

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


async def _closed_with(socket: Any) -> int:
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return int(output["code"])


def _log_out_everywhere(user: Any = None) -> None:
    from django.contrib.sessions.models import Session

    Session.objects.all().delete()


def _deactivate(user: Any) -> None:
    type(user).objects.filter(pk=user.pk).update(is_active=False)


def _change_password(user: Any) -> None:
    fresh = type(user).objects.get(pk=user.pk)
    fresh.set_password("a different password 555")
    fresh.save()


@pytest.mark.parametrize("how", [_log_out_everywhere, _deactivate, _change_password])
def test_a_socket_whose_person_is_signed_out_is_closed_and_sends_nothing(
    chat: Any, alice: Any, how: Any
) -> None:
    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        await database_sync_to_async(how)(alice)
        await socket.send_json_to({"type": "message", "body": "after logout"})
        assert await _closed_with(socket) == 4403

    async_to_sync(scenario)()
    assert not ChatMessage.objects.filter(body="after logout").exists()


def test_an_agent_signed_out_cannot_end_a_chat_over_an_old_socket(chat: Any, on_duty: Any) -> None:
    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await database_sync_to_async(_deactivate)(on_duty)
        await socket.send_json_to({"type": "end"})
        assert await _closed_with(socket) == 4403

    async_to_sync(scenario)()
    chat.refresh_from_db()
    assert chat.is_open


def test_a_signed_out_person_typing_is_closed(chat: Any, alice: Any) -> None:
    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        await database_sync_to_async(_log_out_everywhere)()
        await socket.send_json_to({"type": "typing"})
        assert await _closed_with(socket) == 4403

    async_to_sync(scenario)()


def test_typing_is_relayed_at_most_once_in_two_seconds_per_socket(
    chat: Any, alice: Any, on_duty: Any
) -> None:
    async def scenario() -> None:
        customer, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        for _ in range(50):
            await customer.send_json_to({"type": "typing"})
        assert (await next_of(agent, "typing"))["role"] == "customer"
        assert await agent.receive_nothing(timeout=0.5)
        await customer.disconnect()
        await agent.disconnect()

    async_to_sync(scenario)()


def test_typing_is_not_relayed_on_an_ended_chat(chat: Any, alice: Any, on_duty: Any) -> None:
    async def scenario() -> None:
        customer, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await database_sync_to_async(services.end)(chat, alice)
        await next_of(agent, "state")
        await customer.send_json_to({"type": "typing"})
        await agent.send_json_to({"type": "typing"})
        for socket in (customer, agent):
            while not await socket.receive_nothing(timeout=0.5):
                event = await socket.receive_json_from()
                assert event["type"] != "typing", event
        await customer.disconnect()
        await agent.disconnect()

    async_to_sync(scenario)()


def test_typing_from_staff_who_do_not_have_the_chat_is_not_relayed(
    chat: Any, alice: Any, second_agent: Any
) -> None:
    async def scenario() -> None:
        customer, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        colleague, _ = await connected(f"/ws/chat/{chat.pk}/", second_agent)
        await colleague.send_json_to({"type": "typing"})
        assert await customer.receive_nothing(timeout=0.5)
        await customer.disconnect()
        await colleague.disconnect()

    async_to_sync(scenario)()
