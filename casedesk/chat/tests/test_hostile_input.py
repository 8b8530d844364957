"""Nothing a client sends to chat is a 500 or drops a healthy socket.

Ids too large for the database (or for a channel-layer group name), text with lone
surrogates (which no database stores), garbage frames and garbage query strings are
answered with a 404, a 400 or an error event on the socket, which stays open.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk.chat import services
from casedesk.chat.models import ChatMessage
from casedesk.chat.tests.conftest import (
    ORIGIN,
    PatientCommunicator,
    communicator,
    connected,
    cookie_for,
    logged_in,
    next_of,
)
from casedesk.lib.env import Rate

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")

HUGE = ["9" * 400, str(2**63), "0" * 30 + "1" * 20]
CUSTOMER_URLS = [
    ("get", "/chat/{id}/poll"),
    ("post", "/chat/{id}/send"),
    ("post", "/chat/{id}/file"),
    ("post", "/chat/{id}/end"),
    ("post", "/chat/{id}/leave-case"),
    ("get", "/chat/{id}/files/1"),
    ("get", "/chat/1/files/{id}"),
]
DESK_URLS = [
    ("post", "/desk/chat/{id}/accept"),
    ("post", "/desk/chat/{id}/transfer"),
    ("post", "/desk/chat/{id}/end"),
    ("post", "/desk/chat/{id}/case"),
]
# Any text, lone surrogates (U+D800-U+DFFF) included: JSON escapes them ("\ud800").
ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
REQUESTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "typing", "accept", "transfer", "end", "heartbeat"])
        | ANY_TEXT
    },
    optional={"body": JSON_VALUES, "to": JSON_VALUES, "available": JSON_VALUES},
)
FRAMES = st.lists(
    st.one_of(
        REQUESTS.map(json.dumps),
        JSON_VALUES.map(json.dumps),
        ANY_TEXT.filter(bool),
        st.binary(min_size=1, max_size=20),
    ),
    min_size=1,
    max_size=6,
)


def fuzz(examples: int) -> settings:
    """Hypothesis settings for these tests: each example drives real sockets and requests
    (no per-example deadline), on the test's one chat (function-scoped fixtures)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize("huge", HUGE)
@pytest.mark.parametrize(("method", "url"), CUSTOMER_URLS)
def test_a_chat_id_past_the_database_range_is_a_404_for_a_customer(
    chat: Any, alice: Any, settings: Any, method: str, url: str, huge: str
) -> None:
    settings.CHAT_POLL_SECONDS = 0  # answer at once: nothing is awaited here
    response = getattr(logged_in(alice), method)(url.format(id=huge))
    assert response.status_code == 404


@pytest.mark.parametrize("huge", HUGE)
@pytest.mark.parametrize(("method", "url"), DESK_URLS)
def test_a_chat_id_past_the_database_range_is_a_404_on_the_desk(
    desk: Any, on_duty: Any, method: str, url: str, huge: str
) -> None:
    assert getattr(desk, method)(url.format(id=huge)).status_code == 404


@pytest.mark.parametrize("huge", HUGE)
def test_a_socket_to_a_chat_id_past_the_database_range_is_refused(
    chat: Any, alice: Any, huge: str
) -> None:
    async def scenario() -> None:
        socket = PatientCommunicator(
            _application(),
            f"/ws/chat/{huge}/",
            headers=[ORIGIN, await database_sync_to_async(cookie_for)(alice)],
        )
        connected, code = await socket.connect(timeout=5)
        assert not connected and code == 4403

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "message", "body": "\\ud800"}',
        '{"type": "message", "body": "fine \\udfff then"}',
        '{"type": "\\ud800"}',
        '{"type": "message", "body": "ok", "\\ud800": 1}',
        '{"type": "transfer", "to": "\\ud800"}',
        '{"type": "message", "body": ["\\ud800"]}',
    ],
)
def test_a_lone_surrogate_in_a_frame_is_answered_and_the_socket_stays_open(
    chat: Any, alice: Any, frame: str
) -> None:
    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        await socket.send_to(text_data=frame)
        error = await next_of(socket, "error")
        assert error["error"]
        await socket.send_json_to({"type": "message", "body": "still here"})
        assert (await next_of(socket, "message"))["message"]["body"] == "still here"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert list(ChatMessage.objects.filter(kind="text").values_list("body", flat=True)) == [
        "still here"
    ]


def test_a_lone_surrogate_is_refused_by_the_chat_services(chat: Any, alice: Any) -> None:
    with pytest.raises(services.ChatError, match="character"):
        services.post(chat, alice, "broken \ud800 text")
    with pytest.raises(services.ChatError, match="character"):
        services.leave_message(alice, "Subject \udfff", "body")
    with pytest.raises(services.ChatError, match="character"):
        services.leave_message(alice, "Subject", "body \ud800")
    assert not ChatMessage.objects.filter(kind="text").exists()


def test_a_surrogate_encoded_in_a_posted_form_is_not_a_500(chat: Any, alice: Any) -> None:
    """The HTTP path (long-poll transport): UTF-8-encoded surrogates in a form are decoded
    as replacement characters; a JSON body is not a form and asks for a message."""
    client = logged_in(alice)
    form = "application/x-www-form-urlencoded"
    sent = client.post(f"/chat/{chat.pk}/send", b"body=%ED%A0%80ok", content_type=form)
    assert sent.status_code == 200
    assert sent.json()["message"]["body"] == "\ufffd\ufffd\ufffdok"
    as_json = client.post(
        f"/chat/{chat.pk}/send", '{"body": "\\ud800"}', content_type="application/json"
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "Write a message."
    left = client.post("/chat/leave", b"subject=%ED%A0%80&body=%ED%B0%80", content_type=form)
    assert left.status_code == 200 and left.json()["reference"]


@fuzz(40)
@given(frames=FRAMES)
def test_garbage_frames_never_drop_a_customers_socket(
    chat: Any, alice: Any, django_settings: Any, frames: list[str | bytes]
) -> None:
    django_settings.RATE_CHAT_MESSAGES = Rate(10_000, timedelta(minutes=1))
    _survives(f"/ws/chat/{chat.pk}/", alice, frames)


@fuzz(25)
@given(frames=FRAMES)
def test_garbage_frames_never_drop_an_agents_sockets(
    chat: Any, on_duty: Any, frames: list[str | bytes]
) -> None:
    _survives(f"/ws/chat/{chat.pk}/", on_duty, frames)
    _survives("/ws/desk/chat/", on_duty, frames)


@fuzz(60)
@given(
    pk=st.one_of(
        st.integers(min_value=0, max_value=10**450).map(str),
        st.text(max_size=30).map(lambda t: quote(t, safe="")),
    ),
    after=st.text(max_size=30),
    have=st.one_of(st.none(), st.text(max_size=30)),
    path=st.sampled_from(
        ["/chat/{id}/poll", "/chat/{id}/files/{id}", "/chat/{id}/end", "/chat/{id}/send"]
    ),
)
def test_garbage_ids_and_query_strings_are_never_a_500(
    chat: Any, alice: Any, django_settings: Any, pk: str, after: str, have: str | None, path: str
) -> None:
    django_settings.CHAT_POLL_SECONDS = 0
    client = logged_in(alice)
    url = path.format(id=pk)
    query = {"after": after} if have is None else {"after": after, "have": have}
    response = client.get(url, query) if path.endswith(("poll", "}")) else client.post(url, query)
    assert response.status_code in (200, 302, 400, 404, 405, 409), response.status_code


@pytest.fixture
def django_settings(settings: Any) -> Any:
    """pytest-django's ``settings`` under another name (hypothesis's ``settings`` is the
    decorator above)."""
    return settings


def _application() -> Any:
    from casedesk.asgi import application

    return application


def _survives(path: str, user: Any, frames: list[str | bytes]) -> None:
    """Send ``frames`` on a socket of ``user``, then a request of an unknown type: the
    socket must answer it with an error event (it is open and reading), never close."""

    async def scenario() -> None:
        socket = await communicator(path, user)
        assert (await socket.connect(timeout=5))[0]
        for frame in frames:
            if isinstance(frame, bytes):
                await socket.send_to(bytes_data=frame)
            else:
                await socket.send_to(text_data=frame)
        await socket.send_json_to({"type": "probe"})
        while True:
            output = await socket.receive_output(timeout=10)
            assert output["type"] == "websocket.send", output
            event = json.loads(output["text"])
            if event["type"] == "error" and "nknown request" in event["error"]:
                break
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_socket_that_fails_answering_gives_its_place_back(
    chat: Any, alice: Any, monkeypatch: Any
) -> None:
    """A failure while answering a frame (a bug, the database gone) closes the socket with
    1011 and gives back its place: the server never calls disconnect() for a socket whose
    application failed, and the person would be refused (4429) after ten such failures."""
    from casedesk.chat import consumers

    def broken(*args: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "post", broken)

    async def scenario() -> None:
        socket, _ = await connected(f"/ws/chat/{chat.pk}/", alice)
        assert consumers.open_sockets(alice.pk) == 1
        await socket.send_json_to({"type": "message", "body": "hello"})
        closed = None
        with pytest.raises(RuntimeError, match="went away"):  # on to the server's log
            while True:
                output = await socket.receive_output(timeout=5)
                if output["type"] == "websocket.close":
                    closed = output["code"]
        assert closed == consumers.INTERNAL_ERROR
        assert consumers.open_sockets(alice.pk) == 0

    async_to_sync(scenario)()
