"""With REDIS_URL (several web processes) the chat's sockets go through Redis: an idle
socket must outlive the layer's 5-second blocking reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from casedesk.chat import services
from casedesk.chat.tests.conftest import connected, next_of, use_redis_layer

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


@pytest.fixture
def redis_layer(settings: Any, chat_db: None) -> None:
    use_redis_layer(settings, "socket")


def test_a_chat_idle_longer_than_the_layers_blocking_read_still_delivers(
    redis_layer: None, on_duty: Any, alice: Any
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)

    async def scenario() -> None:
        customer, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        agent, _ = await connected(f"/ws/chat/{chat.pk}/", on_duty)
        await asyncio.sleep(7)  # longer than channels-redis's 5 s BZPOPMIN
        await customer.send_json_to({"type": "message", "body": "Still there?"})
        heard = await next_of(agent, "message", timeout=10)
        assert heard["message"]["body"] == "Still there?"
        await customer.disconnect()
        await agent.disconnect()

    async_to_sync(scenario)()
