"""What goes over the channel layer: group names and the events sent to them.

Every event is sent after the change it announces is committed (services call
:func:`after_commit`), so a client that hears of a message and re-fetches the
history always finds it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# Agents' consoles listen here for "the queue changed".
DESK_GROUP = "chat-desk"


def session_group(session_id: int) -> str:
    return f"chat-{session_id}"


def send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def after_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send(group, event), robust=True)
