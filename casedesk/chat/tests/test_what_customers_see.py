"""What a customer is sent about staff: a display name, never an id or an email."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from casedesk.chat import services
from casedesk.chat.tests.conftest import connected, logged_in, next_of

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def _assert_no_staff_internals(payload: Any, agent: Any) -> None:
    text = json.dumps(payload)
    assert "agent_id" not in text
    assert agent.email not in text
    sessions = [payload["session"]] if "session" in payload else []
    for session in sessions:
        assert session["agent"] in ("", "Sam", "Kim")  # the agents' short names
        assert set(session) >= {"id", "status", "agent"}
        assert not any(key.endswith("_id") for key in session)


def test_http_answers_carry_the_agents_name_only(chat: Any, alice: Any, on_duty: Any) -> None:
    client = logged_in(alice)
    poll = client.get(f"/chat/{chat.pk}/poll", {"after": 0}).json()
    assert poll["session"]["agent"] == "Sam"
    _assert_no_staff_internals(poll, on_duty)
    _assert_no_staff_internals(client.post("/chat/start").json(), on_duty)
    _assert_no_staff_internals(client.post(f"/chat/{chat.pk}/end").json(), on_duty)


def test_socket_events_carry_the_agents_name_only(
    chat: Any, alice: Any, on_duty: Any, second_agent: Any
) -> None:
    async def scenario() -> None:
        socket, history = await connected(f"/ws/chat/{chat.pk}/", alice)
        _assert_no_staff_internals(history, on_duty)
        await database_sync_to_async(services.transfer)(chat, on_duty, second_agent)
        state = await next_of(socket, "state")
        assert state["session"]["agent"] == "Kim"
        _assert_no_staff_internals(state, second_agent)
        _assert_no_staff_internals(state, on_duty)
        await socket.disconnect()

    async_to_sync(scenario)()
