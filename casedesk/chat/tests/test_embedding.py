"""The widget in the vendor's product: a frame of /chat/embed/ that only the origins in
CASEDESK_CHAT_EMBED_ORIGINS may embed; nothing cross-origin reaches the chat itself."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from casedesk.chat.tests.conftest import PatientCommunicator, communicator, logged_in
from casedesk.core.csp import parse

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")

PRODUCT = "https://app.example.com"


def frame_ancestors(response: Any) -> list[str]:
    """The page's frame-ancestors (the rest of its policy is the site's, core/csp.py)."""
    return parse(response["Content-Security-Policy"])["frame-ancestors"]


def test_by_default_no_site_may_frame_the_widget(alice: Any) -> None:
    response = logged_in(alice).get("/chat/embed/", {"host": PRODUCT})
    assert response.status_code == 200
    assert frame_ancestors(response) == ["'none'"]
    # The page does not even tell the unlisted origin its size.
    assert b'data-casedesk-host=""' in response.content


def test_listed_origins_and_only_they_may_frame_the_widget(
    alice: Any, on_duty: Any, settings: Any
) -> None:
    settings.CHAT_EMBED_ORIGINS = [PRODUCT, "http://127.0.0.1:9001"]
    response = logged_in(alice).get("/chat/embed/", {"host": PRODUCT})
    assert frame_ancestors(response) == ["https://app.example.com", "http://127.0.0.1:9001"]
    assert "X-Frame-Options" not in response  # the CSP decides (and browsers prefer it)
    assert f'data-casedesk-host="{PRODUCT}"'.encode() in response.content
    assert b'data-testid="chat-start"' in response.content
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "host",
    ["https://evil.example", "https://app.example.com.evil.example", "*", "", "\x00", "x" * 5000],
)
def test_an_unlisted_host_gets_no_size_messages(alice: Any, settings: Any, host: str) -> None:
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]
    response = logged_in(alice).get("/chat/embed/", {"host": host})
    assert response.status_code == 200
    assert b'data-casedesk-host=""' in response.content


def test_the_other_pages_stay_unframeable(alice: Any, settings: Any) -> None:
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]
    client = logged_in(alice)
    assert client.get("/chat/widget/")["X-Frame-Options"] == "DENY"
    assert client.get("/portal/")["X-Frame-Options"] == "DENY"


def test_an_anonymous_frame_offers_a_log_in_that_lands_on_the_signed_in_page(
    settings: Any,
) -> None:
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]
    page = Client().get("/chat/embed/", {"host": PRODUCT}).content.decode()
    assert 'href="/accounts/login/?next=/chat/embed/signed-in/"' in page
    assert '<base target="_blank">' in page  # out of the small frame, into a tab


def test_the_signed_in_page_needs_a_log_in_and_cannot_be_framed(alice: Any) -> None:
    assert Client().get("/chat/embed/signed-in/").status_code == 302
    response = logged_in(alice).get("/chat/embed/signed-in/")
    assert response.status_code == 200
    assert frame_ancestors(response) == ["'none'"]


def test_no_cors_is_granted_to_the_embedding_origin(alice: Any, chat: Any, settings: Any) -> None:
    """The frame talks to its own origin: the product's page gets no credentialed access."""
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]
    client = logged_in(alice)
    for path in ("/chat/widget/", f"/chat/{chat.pk}/poll?after=0", "/chat/state"):
        response = client.get(path, HTTP_ORIGIN=PRODUCT)
        assert "Access-Control-Allow-Origin" not in response, path
        assert "Access-Control-Allow-Credentials" not in response, path
    preflight = client.options("/chat/start", HTTP_ORIGIN=PRODUCT)
    assert "Access-Control-Allow-Origin" not in preflight


@pytest.mark.parametrize(
    "origin",
    [
        PRODUCT,
        "https://evil.example",
        # Same host name, another port or scheme: another origin (Channels' host-name
        # check let these through).
        "http://127.0.0.1:9999",
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8000.evil.example",
        "null",
        "http://127.0.0.1:8000/",
    ],
)
def test_a_socket_from_the_product_or_any_other_site_is_refused(
    chat: Any, alice: Any, settings: Any, origin: str
) -> None:
    """Listed or not, a foreign page never opens a socket with the visitor's cookie: the
    framed widget's socket comes from casedesk's own origin."""
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]

    async def scenario() -> None:
        socket = await communicator(
            f"/ws/chat/{chat.pk}/", alice, origin=(b"origin", origin.encode())
        )
        ok, _ = await socket.connect()
        assert not ok

    async_to_sync(scenario)()


def test_a_cross_site_post_from_the_product_is_refused(alice: Any, settings: Any) -> None:
    settings.CHAT_EMBED_ORIGINS = [PRODUCT]
    client = logged_in(alice, csrf=True)
    response = client.post("/chat/start", HTTP_ORIGIN=PRODUCT)
    assert response.status_code == 403


def test_the_state_endpoint_says_whether_chat_is_open_and_who_asks(
    alice: Any, agent: Any, chat_db: None
) -> None:
    from casedesk.chat import services

    assert Client().get("/chat/state").json() == {"state": "offline", "customer": False}
    services.heartbeat(agent, available=True)
    assert Client().get("/chat/state").json() == {"state": "open", "customer": False}
    assert logged_in(alice).get("/chat/state").json() == {"state": "open", "customer": True}
    assert logged_in(agent).get("/chat/state").json()["customer"] is False
    assert Client().post("/chat/state").status_code == 405


@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000", True),
        (b"localhost:8123", b"http://localhost:8123", True),  # the page the socket came from
        (b"localhost:8123", b"http://localhost:8124", False),
        (b"evil.example:8123", b"http://evil.example:8123", False),  # not an allowed host
        (b"\xff\xfe", b"http://127.0.0.1:8000", True),  # garbage Host: only BASE_URL counts
        (b"127.0.0.1:8000", b"\xff\xfe", False),
    ],
)
def test_a_socket_is_accepted_only_from_casedesks_own_origin(
    chat: Any, alice: Any, host: bytes, origin: bytes, accepted: bool
) -> None:

    from casedesk.asgi import application
    from casedesk.chat.tests.conftest import cookie_for

    async def scenario() -> None:
        from channels.db import database_sync_to_async

        cookie = await database_sync_to_async(cookie_for)(alice)
        socket = PatientCommunicator(
            application,
            f"/ws/chat/{chat.pk}/",
            headers=[(b"host", host), (b"origin", origin), cookie],
        )
        ok, _ = await socket.connect()
        assert ok is accepted
        if ok:
            await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (b"https://support.example.com", True),
        (b"http://support.example.com", False),  # the scope says ws: the proxy took TLS off
        (b"https://support.example.com:8443", False),
        (b"http://127.0.0.1:8000", False),
    ],
)
def test_behind_a_tls_terminating_proxy_only_the_https_base_url_is_casedesks_origin(
    settings: Any, origin: bytes, accepted: bool
) -> None:
    """Production: CASEDESK_BASE_URL is https://; a proxy ends TLS and forwards plain ws,
    so the handshake's own scheme cannot tell the desk's page from an http:// one."""
    from casedesk.chat.origins import same_origin

    settings.BASE_URL = "https://support.example.com"
    settings.ALLOWED_HOSTS = ["support.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://support.example.com"]
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "headers": [(b"host", b"support.example.com"), (b"origin", origin)],
    }
    assert same_origin(scope) is accepted


def test_the_open_or_offline_answer_is_shared_briefly_and_forgotten_on_a_change(
    agent: Any, chat_db: None
) -> None:
    """/chat/state (every open widget, about every 30 s) asks the database at most once
    per few seconds; an agent switching on or off, or new hours, are seen at once."""
    from datetime import timedelta

    import time_machine
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from casedesk.chat import services
    from casedesk.chat.models import Presence
    from casedesk.hours.models import Calendar
    from casedesk.hours.services import current_calendar

    def state() -> str:
        return str(Client().get("/chat/state").json()["state"])

    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert state() == "offline"
        services.heartbeat(agent, available=True)
        assert state() == "open"  # forgotten at once
        with CaptureQueriesContext(connection) as queries:
            assert state() == "open"
        assert len(queries) == 0
        # Changed behind the services' back: seen when the answer's few seconds are over.
        Presence.objects.filter(agent=agent).update(available=False)
        assert state() == "open"
        clock.shift(timedelta(seconds=services.STATE_CACHE_SECONDS))
        assert state() == "offline"
        services.heartbeat(agent, available=True)
        assert state() == "open"
        # Support hours changed: a calendar closed all week is seen at once.
        calendar = Calendar.objects.get(name=current_calendar().name)
        calendar.intervals.all().delete()
        calendar.save()
        assert state() == "offline"
