"""The chat's WebSocket: who may connect, sending, reconnecting, accepting and transferring."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync

from casedesk.chat import services
from casedesk.chat.models import ChatMessage, ChatSession, ChatStatus
from casedesk.chat.tests.conftest import SATURDAY_10AM, communicator, connected, next_of

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def test_anonymous_and_other_organizations_are_refused_at_the_handshake(
    on_duty: Any, alice: Any, bob: Any
) -> None:
    chat = services.start(alice)

    async def scenario() -> None:
        for who in (None, bob):
            socket = await communicator(f"/ws/chat/{chat.pk}/", who)
            ok, code = await socket.connect()
            assert (ok, code) == (False, 4403)
        missing = await communicator("/ws/chat/999999/", alice)
        assert (await missing.connect())[0] is False

    async_to_sync(scenario)()


def test_an_agent_who_owes_the_second_factor_is_refused(on_duty: Any, alice: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    chat = services.start(alice)
    TOTPDevice.objects.create(user=on_duty, name="phone", confirmed=True)

    async def scenario() -> None:
        for path in (f"/ws/chat/{chat.pk}/", "/ws/desk/chat/"):
            socket = await communicator(path, on_duty)
            assert await socket.connect() == (False, 4403)

    async_to_sync(scenario)()


def test_a_socket_from_another_site_is_refused(on_duty: Any, alice: Any) -> None:
    chat = services.start(alice)

    async def scenario() -> None:
        socket = await communicator(
            f"/ws/chat/{chat.pk}/", alice, origin=(b"origin", b"https://evil.example")
        )
        assert (await socket.connect())[0] is False

    async_to_sync(scenario)()


def test_customer_message_is_stored_then_reaches_the_agent_and_survives_a_reconnect(
    on_duty: Any, alice: Any
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)

    async def scenario() -> None:
        customer, history = await connected(f"/ws/chat/{chat.pk}/", alice)
        assert history["type"] == "history"
        assert history["session"]["status"] == "active"
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await customer.send_json_to({"type": "message", "body": "  Exports fail with 502  "})
        heard = await next_of(agent, "message")
        assert heard["message"]["body"] == "Exports fail with 502"
        assert heard["message"]["role"] == "customer"
        assert (await next_of(customer, "message"))["message"]["id"] == heard["message"]["id"]
        await agent.send_json_to({"type": "message", "body": "Looking at it now."})
        await next_of(customer, "message")
        await customer.disconnect()
        # The browser comes back (or another server process answers): the whole chat again.
        again, history = await connected(f"/ws/chat/{chat.pk}/", alice)
        bodies = [m["body"] for m in history["messages"] if m["kind"] == "text"]
        assert bodies == ["Exports fail with 502", "Looking at it now."]
        await again.disconnect()
        await agent.disconnect()

    async_to_sync(scenario)()
    assert ChatMessage.objects.filter(session=chat, kind="text").count() == 2


def test_typing_reaches_the_other_side_only(on_duty: Any, alice: Any) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)

    async def scenario() -> None:
        customer, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await agent.send_json_to({"type": "typing"})
        typing = await next_of(customer, "typing")
        assert typing == {"type": "typing", "name": "Sam", "role": "agent"}
        assert await agent.receive_nothing(timeout=0.3)
        await customer.disconnect()
        await agent.disconnect()

    async_to_sync(scenario)()


def test_agent_accepts_over_the_socket_and_transfers_to_a_colleague(
    on_duty: Any, second_agent: Any, alice: Any
) -> None:
    chat = services.start(alice)

    async def scenario() -> None:
        customer, history = await connected(f"/ws/chat/{chat.pk}/", alice)
        assert history["session"]["status"] == "waiting"
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await agent.send_json_to({"type": "accept"})
        state = await next_of(customer, "state")
        assert state["session"]["status"] == "active"
        assert state["session"]["agent"] == "Sam"
        # Only the agent who has the chat writes in it.
        colleague, _ = await connected(f"/ws/chat/{chat.pk}/", second_agent)
        await colleague.send_json_to({"type": "message", "body": "Hi"})
        assert "Another agent" in (await next_of(colleague, "error"))["error"]
        await agent.send_json_to({"type": "transfer", "to": second_agent.pk})
        # The note is stored and sent first, then the new state.
        note = await next_of(customer, "message")
        assert note["message"]["body"] == "Sam transferred the chat to Kim."
        state = await next_of(customer, "state")
        assert state["session"]["agent"] == "Kim"
        await colleague.send_json_to({"type": "message", "body": "Kim here, reading up."})
        assert (await next_of(customer, "message"))["message"]["author"] == "Kim Agent"
        # A customer cannot accept or transfer.
        await customer.send_json_to({"type": "transfer", "to": on_duty.pk})
        assert (await next_of(customer, "error"))["error"]
        for socket in (customer, agent, colleague):
            await socket.disconnect()

    async_to_sync(scenario)()
    chat.refresh_from_db()
    assert chat.status == ChatStatus.ACTIVE and chat.agent == second_agent


def test_of_two_agents_accepting_at_once_one_gets_the_chat(
    on_duty: Any, second_agent: Any, alice: Any
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)
    with pytest.raises(services.ChatError, match="Another agent took"):
        services.accept(ChatSession.objects.get(pk=chat.pk), second_agent)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": 7}',
        '{"type": "launch"}',
        '{"type": "message", "body": ["a list"]}',
        '{"type": "message", "body": ""}',
        '{"type": "message", "body": "' + "x" * 5000 + '"}',
        '{"type": "message", "body": "nul \\u0000 byte"}',
        '{"type": "transfer", "to": "1; DROP TABLE"}',
        "x" * 20_000,
    ],
)
def test_garbage_frames_are_answered_with_an_error_and_store_nothing(
    on_duty: Any, alice: Any, frame: str
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)
    before = ChatMessage.objects.count()

    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        await socket.send_to(text_data=frame)
        assert (await next_of(socket, "error"))["error"]
        await socket.send_to(bytes_data=b"\x00\xff")
        assert (await next_of(socket, "error"))["error"]
        await socket.disconnect()

    async_to_sync(scenario)()
    assert ChatMessage.objects.count() == before


def test_the_desk_socket_is_for_staff_and_hears_the_queue_change(on_duty: Any, alice: Any) -> None:
    async def scenario() -> None:
        refused = await communicator("/ws/desk/chat/", alice)
        assert (await refused.connect()) == (False, 4403)
        desk = await communicator("/ws/desk/chat/", on_duty)
        assert (await desk.connect())[0]
        from channels.db import database_sync_to_async

        await database_sync_to_async(services.start)(alice)
        assert await desk.receive_json_from(timeout=5) == {"type": "queue"}
        await desk.send_json_to({"type": "heartbeat", "available": False})
        await desk.send_json_to({"type": "nonsense"})
        assert (await desk.receive_json_from(timeout=5))["type"] == "error"
        await desk.disconnect()

    async_to_sync(scenario)()
    on_duty.chat_presence.refresh_from_db()
    assert on_duty.chat_presence.available is False


def test_after_hours_no_chat_starts_but_an_open_chat_still_connects_with_its_history(
    on_duty: Any, alice: Any
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)
    services.post(chat, alice, "Still there on Saturday?")
    services.end(chat, alice)
    with time_machine.travel(SATURDAY_10AM, tick=True):
        services.heartbeat(on_duty, available=True)
        assert not services.availability().open
        with pytest.raises(services.ChatError, match="closed"):
            services.start(alice)

        async def scenario() -> None:
            socket, history = await connected(f"/ws/chat/{chat.pk}/", alice)
            assert history["session"]["status"] == "ended"
            assert "Still there on Saturday?" in [m["body"] for m in history["messages"]]
            await socket.send_json_to({"type": "message", "body": "Hello?"})
            assert "ended" in (await next_of(socket, "error"))["error"]
            await socket.disconnect()

        async_to_sync(scenario)()
