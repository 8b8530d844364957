"""The HTTP fallback for blocked WebSockets: send with CSRF, long-poll for what came after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import connection
from django.test import AsyncClient, Client

from casedesk.chat import broadcast, services
from casedesk.chat.models import ChatMessage
from casedesk.chat.tests.conftest import PATIENCE, logged_in

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def test_a_message_sent_over_http_is_stored_and_the_poll_returns_what_came_after(
    chat: Any, alice: Any, on_duty: Any
) -> None:
    customer, agent = logged_in(alice), logged_in(on_duty)
    first = customer.post(f"/chat/{chat.pk}/send", {"body": "Hello <b>there</b>"}).json()
    assert first["message"]["body"] == "Hello <b>there</b>"  # JSON, shown with textContent
    agent.post(f"/chat/{chat.pk}/send", {"body": "Hi Alice"})
    polled = customer.get(f"/chat/{chat.pk}/poll", {"after": first["message"]["id"]}).json()
    assert [m["body"] for m in polled["messages"]] == ["Hi Alice"]
    assert polled["session"]["status"] == "active"
    everything = customer.get(f"/chat/{chat.pk}/poll", {"after": 0}).json()["messages"]
    assert [m["kind"] for m in everything] == ["system", "system", "text", "text"]


def test_an_empty_poll_waits_the_poll_time_then_answers_no_messages(
    chat: Any, alice: Any, settings: Any
) -> None:
    settings.CHAT_POLL_SECONDS = 1
    last = ChatMessage.objects.filter(session=chat).latest("pk")
    started = time.monotonic()
    answer = logged_in(alice).get(f"/chat/{chat.pk}/poll", {"after": last.pk}).json()
    assert answer["messages"] == []
    assert time.monotonic() - started >= 0.9


def test_sending_without_the_csrf_token_is_refused(chat: Any, alice: Any) -> None:
    response = logged_in(alice, csrf=True).post(f"/chat/{chat.pk}/send", {"body": "hi"})
    assert response.status_code == 403
    assert not ChatMessage.objects.filter(body="hi").exists()


def test_another_organization_gets_404_on_every_endpoint_of_the_chat(chat: Any, bob: Any) -> None:
    client = logged_in(bob)
    for method, path in [
        ("get", f"/chat/{chat.pk}/poll?after=0"),
        ("post", f"/chat/{chat.pk}/send"),
        ("post", f"/chat/{chat.pk}/file"),
        ("post", f"/chat/{chat.pk}/end"),
        ("post", f"/chat/{chat.pk}/leave-case"),
        ("get", f"/chat/{chat.pk}/files/1"),
    ]:
        response = getattr(client, method)(path, {"body": "peek"} if method == "post" else None)
        assert response.status_code == 404, path
    assert services.open_chat_of(bob) is None


def test_a_colleague_at_the_same_organization_does_not_see_the_chat(chat: Any, acme: Any) -> None:
    from casedesk.accounts.models import User

    colleague = User.objects.create_user(
        "carol@acme.example", "x-long-password-1", role="customer", organization=acme
    )
    assert logged_in(colleague).get(f"/chat/{chat.pk}/poll?after=0").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(chat: Any) -> None:
    response = Client().get(f"/chat/{chat.pk}/poll?after=0")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Client().post("/chat/start").status_code == 302


@pytest.mark.parametrize(
    "after", ["-1", "abc", "1e9", "٣", "9" * 30, "1 OR 1=1", "", "0x10", "\x00"]
)
def test_garbage_after_is_refused_with_400(chat: Any, alice: Any, after: str) -> None:
    response = logged_in(alice).get(f"/chat/{chat.pk}/poll", {"after": after})
    assert response.status_code == 400, after
    assert "error" in response.json()


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001, "nul\x00byte"])
def test_garbage_bodies_are_refused_and_store_nothing(chat: Any, alice: Any, body: str) -> None:
    before = ChatMessage.objects.count()
    response = logged_in(alice).post(f"/chat/{chat.pk}/send", {"body": body})
    assert response.status_code == 400 and response.json()["error"]
    assert ChatMessage.objects.count() == before


def test_a_customer_cannot_write_in_an_ended_chat(chat: Any, alice: Any) -> None:
    client = logged_in(alice)
    assert client.post(f"/chat/{chat.pk}/end").json()["session"]["status"] == "ended"
    response = client.post(f"/chat/{chat.pk}/send", {"body": "one more thing"})
    assert response.status_code == 400 and "ended" in response.json()["error"]


def test_a_message_committed_late_below_the_clients_last_id_still_reaches_the_poll(
    chat: Any, alice: Any, on_duty: Any, settings: Any
) -> None:
    settings.CHAT_POLL_SECONDS = 1
    late = services.post(chat, on_duty, "Committed late")
    newest = services.post(chat, on_duty, "Seen first")
    # The client saw everything up to ``newest`` except ``late`` (its transaction
    # committed after ``newest`` was polled): it has one message fewer than the server.
    have = ChatMessage.objects.filter(session=chat).count() - 1
    client = logged_in(alice)
    answer = client.get(
        f"/chat/{chat.pk}/poll", {"after": str(newest.pk), "have": str(have)}
    ).json()
    assert late.pk in [m["id"] for m in answer["messages"]]
    # A client that has them all waits for what comes next, as before.
    started = time.monotonic()
    caught_up = client.get(
        f"/chat/{chat.pk}/poll", {"after": str(newest.pk), "have": str(have + 1)}
    )
    assert caught_up.json()["messages"] == []
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize("have", ["-1", "abc", "9" * 30, "", "\x00", "٣"])
def test_garbage_have_is_refused_with_400(chat: Any, alice: Any, have: str) -> None:
    response = logged_in(alice).get(f"/chat/{chat.pk}/poll", {"after": "0", "have": have})
    assert response.status_code == 400, have
    assert "error" in response.json()


def poll_while(user: Any, chat: Any, meanwhile: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """``user`` polls for what comes after the chat's last message while ``meanwhile``
    runs: the poll's answer (which must come within PATIENCE: the tests set a poll time
    far longer, so an answer is a poll that was woken)."""
    last = ChatMessage.objects.filter(session=chat).latest("pk").pk
    name = django_settings.SESSION_COOKIE_NAME
    cookie = logged_in(user).cookies[name].value

    async def scenario() -> dict[str, Any]:
        client = AsyncClient()
        client.cookies[name] = cookie
        task = asyncio.ensure_future(client.get(f"/chat/{chat.pk}/poll?after={last}"))
        await meanwhile()
        async with asyncio.timeout(PATIENCE):
            response = await task
        answer: dict[str, Any] = response.json()
        return answer

    return async_to_sync(scenario)()


def test_typing_does_not_end_a_waiting_poll(
    chat: Any, alice: Any, on_duty: Any, settings: Any, polls_waiting: Any
) -> None:
    """Only a message or a change of the chat's state answers a waiting poll: while the
    agent types (an event every 2 s) a polling customer does not ask again every 2 s.
    The poll hears the typing (its queue on the channel layer empties), waits on, and
    answers with the message that follows."""
    settings.CHAT_POLL_SECONDS = 3600
    layer = get_channel_layer()
    group = broadcast.session_group(chat.pk)

    async def heard_by_the_poll() -> bool:
        return all(layer.channels[c].empty() for c in layer.groups.get(group, {}))

    async def typing_then_a_message() -> None:
        await sync_to_async(polls_waiting, thread_sensitive=False)(1)
        for _ in range(2):
            await layer.group_send(
                group, {"type": "chat.typing", "user": 0, "name": "Sam", "role": "agent"}
            )
        async with asyncio.timeout(PATIENCE):
            while not await heard_by_the_poll():
                await asyncio.sleep(0.01)
        await sync_to_async(_in_own_thread(services.post), thread_sensitive=False)(
            chat, on_duty, "After typing"
        )

    answer = poll_while(alice, chat, typing_then_a_message)
    assert [m["body"] for m in answer["messages"]] == ["After typing"]


def test_a_state_change_answers_a_waiting_poll_at_once(
    chat: Any, alice: Any, on_duty: Any, settings: Any, polls_waiting: Any
) -> None:
    settings.CHAT_POLL_SECONDS = 3600  # an answer within PATIENCE was woken by the change

    async def ending() -> None:
        await sync_to_async(polls_waiting, thread_sensitive=False)(1)
        # In a thread of its own: the test client runs the waiting poll's sync middleware
        # in this context's thread, as one server thread would.
        await sync_to_async(_in_own_thread(services.end), thread_sensitive=False)(chat, on_duty)

    answer = poll_while(alice, chat, ending)
    assert answer["session"]["status"] == "ended"
    assert [m["body"] for m in answer["messages"]] == ["Sam ended the chat."]


def _in_own_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, closing the database connection of the thread it ran in."""

    def run(*args: Any) -> Any:
        try:
            return function(*args)
        finally:
            connection.close()

    return run
