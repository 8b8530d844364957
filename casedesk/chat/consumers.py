"""WebSocket consumers: a chat's socket (customer or agent) and the agents' console socket.

Thin, like views: every change goes through ``chat.services``, which stores it and then
announces it to the chat's group; the consumers relay group events to their sockets.
Anything a client sends that is not a small JSON object of a known type, or that holds
text no database stores (a lone surrogate), is answered with an error event (the socket
stays open); a person who may not see the chat is refused at
the handshake (close code 4403), before anything of the chat is sent.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.chat import broadcast, services
from casedesk.chat.models import ChatSession

# A text frame bigger than this is refused unread (a message is at most 4,000 characters).
FRAME_MAX = 16_000
REFUSED = 4403
# Close code for a person past CHAT_SOCKETS_PER_USER open sockets (4000 + HTTP's 429).
TOO_MANY = 4429
# Close code when the server fails while setting a socket up (the client reconnects).
INTERNAL_ERROR = 1011
# "Typing" is relayed at most this often per socket (seconds); clients show it for 4 s.
TYPING_EVERY = 2.0


def _person(scope: dict[str, Any]) -> User | None:
    """The logged-in person of the socket; staff only once they gave their second factor
    (the HTTP side's TwoFactorMiddleware does not see sockets, so the rule is kept here)."""
    user = scope.get("user")
    if not isinstance(user, User) or not user.is_active:
        return None
    if user.is_vendor_staff and _owes_second_factor(user, scope.get("session")):
        return None
    return user


def _owes_second_factor(user: User, session: Any) -> bool:
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    from casedesk.accounts.two_factor import confirmed_device, required_for

    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    if device is not None and device.user_id == user.pk and device.confirmed:
        return False
    return confirmed_device(user) is not None or required_for(user)


class SignedOut(Exception):
    """The socket's person logged out (or was deactivated) since it connected."""


def _still_signed_in(scope: dict[str, Any], user: User) -> User:
    """``user`` fresh from the database, if their login session is still valid, else
    ``SignedOut``."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import constant_time_compare

    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if session is None or not key:
        raise SignedOut
    # Read it again: a logout deletes it, expiry ends it.
    stored = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    fresh = User.objects.filter(pk=user.pk).first()
    if (
        fresh is None
        or str(stored.get(SESSION_KEY)) != str(user.pk)
        or not constant_time_compare(
            str(stored.get(HASH_SESSION_KEY, "")), fresh.get_session_auth_hash()
        )
        or _person({**scope, "user": fresh, "session": stored}) is None
    ):
        raise SignedOut
    return fresh


# Open sockets (and waiting long polls) per person in this process. Consumers and the
# async poll view run on the process's one event loop, so a plain counter is safe; it is
# per process, like the sockets themselves (a crashed process takes its count with it).
_open_sockets: Counter[int] = Counter()


def open_sockets(user_id: int) -> int:
    return _open_sockets[user_id]


def take_place(user_id: int) -> bool:
    """Count one more open connection of this person (a socket, or a long poll while it
    waits), unless they hold CHAT_SOCKETS_PER_USER already. Give it back with
    :func:`give_place`."""
    if _open_sockets[user_id] >= settings.CHAT_SOCKETS_PER_USER:
        return False
    _open_sockets[user_id] += 1
    return True


def give_place(user_id: int) -> None:
    _open_sockets[user_id] -= 1
    if _open_sockets[user_id] <= 0:
        del _open_sockets[user_id]


class _JsonConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    counted_user: int | None = None

    async def accept_counted(self, user: User) -> bool:
        """Accept the socket unless ``user`` already holds CHAT_SOCKETS_PER_USER open ones
        (then it is closed with TOO_MANY, before anything is sent or subscribed).

        From here on the place is the socket's: whatever fails before ``connect`` ends
        (see :meth:`settle`), disconnect() may never run, so the place is given back then."""
        if not take_place(user.pk):
            await self.close(code=TOO_MANY)
            return False
        self.counted_user = user.pk
        await self.accept()
        return True

    async def settle(self, user: User, subscribe: Callable[[], Awaitable[None]]) -> None:
        """Accept (counted) and run ``subscribe`` (group_add, the first frame). If that
        fails (Redis away, a database error) the place is released and the socket closed
        (1011, "internal error") before the error goes on to the server's log: a counted
        socket whose application died would otherwise hold its place until a restart."""
        try:
            if await self.accept_counted(user):
                await subscribe()
        except BaseException:
            self.release_count()
            # The client may be gone already; the first error is the news.
            with contextlib.suppress(Exception):
                await self.close(code=INTERNAL_ERROR)
            raise

    def release_count(self) -> None:
        if self.counted_user is not None:
            give_place(self.counted_user)
            self.counted_user = None

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kw: Any
    ) -> None:
        """Answer one frame. Should answering fail (a bug, the database gone), the place is
        given back and the socket closed (1011) before the error goes on to the log: the
        server drops a socket whose application failed without calling disconnect()."""
        try:
            await self._receive(text_data)
        except BaseException:
            self.release_count()
            with contextlib.suppress(Exception):
                await self.close(code=INTERNAL_ERROR)
            raise

    async def _receive(self, text_data: str | None) -> None:
        if text_data is None or len(text_data) > FRAME_MAX:
            await self.send_json(
                {"type": "error", "error": "Send JSON text frames, at most 16 kB."}
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_json({"type": "error", "error": "That was not JSON."})
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json({"type": "error", "error": "Send an object with a type."})
            return
        if not services.storable(json.dumps(content, ensure_ascii=False)):
            # A lone surrogate anywhere ("\ud800"): answered here, before any of it reaches
            # the database (which cannot store it) and fails the socket.
            await self.send_json({"type": "error", "error": services.UNSTORABLE})
            return
        await self.receive_json(content)


class ChatConsumer(_JsonConsumer):
    """``/ws/chat/<id>/``: the chat's customer, or support staff."""

    session_id: int
    user: User
    typed_at = float("-inf")

    async def connect(self) -> None:
        user = await database_sync_to_async(_person)(self.scope)
        pk = self.scope["url_route"]["kwargs"].get("pk")
        session = await database_sync_to_async(services.session_for)(user, pk) if user else None
        if user is None or session is None:
            await self.close(code=REFUSED)
            return
        self.user = user

        async def subscribe() -> None:
            self.session_id = session.pk
            await self.channel_layer.group_add(
                broadcast.session_group(session.pk), self.channel_name
            )
            await self.send_json(await database_sync_to_async(self._snapshot)(session))

        await self.settle(user, subscribe)

    def _snapshot(self, session: ChatSession) -> dict[str, Any]:
        return {
            "type": "history",
            "session": services.describe(session),
            "messages": [services.serialize(m) for m in services.history(session)],
        }

    async def disconnect(self, code: int) -> None:
        self.release_count()
        if hasattr(self, "session_id"):
            await self.channel_layer.group_discard(
                broadcast.session_group(self.session_id), self.channel_name
            )

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content["type"]
        if kind == "typing":
            await self._typing()
            return
        try:
            await database_sync_to_async(self._act)(kind, content)
        except SignedOut:
            await self.close(code=REFUSED)
        except services.ChatError as exc:
            await self.send_json({"type": "error", "error": str(exc)})

    async def _typing(self) -> None:
        """Relay "typing" at most once per TYPING_EVERY seconds per socket, and only from
        the chat's customer or its own agent while the chat is open; others are dropped."""
        now = time.monotonic()
        if now - self.typed_at < TYPING_EVERY:
            return
        self.typed_at = now
        try:
            may = await database_sync_to_async(self._may_type)()
        except SignedOut:
            await self.close(code=REFUSED)
            return
        if may:
            await self.channel_layer.group_send(
                broadcast.session_group(self.session_id),
                {
                    "type": "chat.typing",
                    "user": self.user.pk,
                    "name": self.user.get_short_name(),
                    "role": "agent" if self.user.is_vendor_staff else "customer",
                },
            )

    def _may_type(self) -> bool:
        session = self._session()
        return session.is_open and self.user.pk in (session.customer_id, session.agent_id)

    def _session(self) -> ChatSession:
        """The chat, for a person still signed in (checked again at every request: a
        socket outlives a logout, a deactivation or a password change)."""
        self.user = _still_signed_in(self.scope, self.user)
        session = services.session_for(self.user, self.session_id)
        if session is None:  # deleted meanwhile, or no longer theirs to see
            raise services.ChatError("This chat is gone.")
        return session

    def _act(self, kind: str, content: dict[str, Any]) -> None:
        session = self._session()
        if kind == "message":
            services.post(session, self.user, content.get("body"))
        elif kind == "accept":
            services.accept(session, self.user)
        elif kind == "transfer":
            target = User.objects.filter(pk=_int(content.get("to"))).first()
            if target is None:
                raise services.ChatError("Transfer to an active agent.")
            services.transfer(session, self.user, target)
        elif kind == "end":
            services.end(session, self.user)
        else:
            raise services.ChatError(f"Unknown request {kind[:40]!r}.")

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["user"] != self.user.pk:
            await self.send_json({"type": "typing", "name": event["name"], "role": event["role"]})

    async def chat_state(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "state", "session": event["session"]})


class DeskConsumer(_JsonConsumer):
    """``/ws/desk/chat/``: an agent's console hears when the queue changes, and its
    heartbeats keep the agent's presence fresh."""

    user: User

    async def connect(self) -> None:
        user = await database_sync_to_async(_person)(self.scope)
        if user is None or staff_member(user) is None:
            await self.close(code=REFUSED)
            return
        self.user = user

        async def subscribe() -> None:
            self.subscribed = True
            await self.channel_layer.group_add(broadcast.DESK_GROUP, self.channel_name)

        await self.settle(user, subscribe)

    async def disconnect(self, code: int) -> None:
        self.release_count()
        if getattr(self, "subscribed", False):
            await self.channel_layer.group_discard(broadcast.DESK_GROUP, self.channel_name)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        if content["type"] != "heartbeat":
            await self.send_json({"type": "error", "error": "Unknown request."})
            return
        available = content.get("available")
        await database_sync_to_async(services.heartbeat)(
            self.user, available if isinstance(available, bool) else None
        )

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "queue"})


def _int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return 0
    return number if 0 < number < 2**63 else 0
