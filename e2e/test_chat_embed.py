"""The chat widget embedded in the vendor's product: a page of another origin with one
``<script data-casedesk=...>`` tag. Listed in CASEDESK_CHAT_EMBED_ORIGINS, it frames
casedesk's widget and a logged-in customer chats with an agent; not listed, the browser
refuses the frame, and the page can neither read casedesk with the visitor's cookie
(CORS) nor open a chat socket with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from playwright.sync_api import expect

from casedesk.chat import services, views
from casedesk.chat.tests.conftest import WEDNESDAY_10AM
from casedesk.core.tests.embedded import free_port
from conftest import PASSWORD
from e2e import chat_support
from e2e.chat_support import chat_page, in_thread
from e2e.steps import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles", "priorities"),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

chat_server = chat_support.chat_server  # the fixture

PRODUCT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Analytics</title>
<style>body {{ font-family: serif; background: #fafaf0; }} button {{ background: red; }}</style>
</head><body>
<h1>Acme Analytics dashboard</h1><p>The vendor's own product.</p>
<script src="{casedesk}/static/chat/widget.js" data-casedesk="{casedesk}" async></script>
</body></html>
"""


@pytest.fixture
def casedesk(chat_server: str) -> str:
    return chat_server


@pytest.fixture
def product(casedesk: str) -> Iterator[str]:
    """The vendor's product: another origin (127.0.0.1 on another port) serving one page."""
    page = PRODUCT_PAGE.format(casedesk=casedesk).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_listed_product_frames_the_widget_and_a_logged_in_customer_chats(
    browser: Any,
    casedesk: str,
    product: str,
    alice: Any,
    agent: Any,
    settings: Any,
    screenshot_dir: Path,
) -> None:
    settings.CHAT_EMBED_ORIGINS = [product]
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        sam = chat_page(browser)
        log_in(sam, casedesk, agent.email, PASSWORD)
        sam.goto(f"{casedesk}/desk/chat/")
        expect(sam.get_by_test_id("chat-open-state")).to_have_text("Chat is open to customers.")

        customer = chat_page(browser)
        sockets: list[str] = []
        customer.on("websocket", lambda socket: sockets.append(socket.url))
        log_in(customer, casedesk, alice.email, PASSWORD)  # her casedesk session
        customer.goto(f"{product}/")
        frame_element = customer.locator("iframe[data-casedesk-chat]")
        expect(frame_element).to_have_attribute(
            "src", f"{casedesk}/chat/embed/?host={quote(product, safe='')}"
        )
        frame = customer.frame_locator("iframe[data-casedesk-chat]")
        expect(frame.get_by_test_id("chat-widget")).to_have_attribute("data-state", "open")
        collapsed = frame_element.bounding_box()
        assert collapsed is not None and collapsed["width"] < 300
        frame.get_by_test_id("chat-toggle").click()
        # The frame asked the product's page for room, and got it.
        expect(frame_element).to_have_css("width", "410px")
        frame.get_by_test_id("chat-start").click()
        log = frame.get_by_test_id("chat-log")
        expect(log).to_contain_text("You are in the queue")

        sam.get_by_test_id("chat-queue").get_by_role("button", name="Accept").click()
        expect(frame.get_by_test_id("chat-status")).to_have_text("Chatting with Sam")
        frame.locator("#cdchat-body").fill("Hello from inside Acme Analytics")
        frame.locator("#cdchat-body").press("Enter")
        card = sam.get_by_test_id("chat-card")
        expect(card.locator(".cdchat-log")).to_contain_text("Hello from inside Acme Analytics")
        card.locator("textarea").fill("Hi Alice, I see you in the product.")
        card.get_by_role("button", name="Send").click()
        expect(log).to_contain_text("Hi Alice, I see you in the product.")
        # The product's red buttons did not leak into the frame.
        start_colour = frame.locator(".cdchat-send button[type=submit]").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        assert start_colour == "rgb(31, 78, 140)"
        # The socket went to casedesk, from casedesk's own page (the frame).
        assert sockets and all(url.startswith(casedesk.replace("http", "ws")) for url in sockets)
        customer.screenshot(path=str(screenshot_dir / "chat-embedded-desktop.png"))
        chat = services.open_chat_of(alice)
        assert chat is not None
        assert [m.body for m in services.history(chat) if m.kind == "text"] == [
            "Hello from inside Acme Analytics",
            "Hi Alice, I see you in the product.",
        ]
        sam.context.close()
        customer.context.close()


def test_an_unlisted_product_gets_no_frame_no_cors_and_no_socket(
    browser: Any, casedesk: str, product: str, alice: Any, agent: Any, settings: Any
) -> None:
    settings.CHAT_EMBED_ORIGINS = ["https://app.example.com"]  # not this product
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        in_thread(services.heartbeat, agent, True)
        chat = in_thread(services.start, alice)
        customer = chat_page(browser)
        refusals: list[str] = []
        customer.on("console", lambda message: refusals.append(message.text))
        log_in(customer, casedesk, alice.email, PASSWORD)
        customer.goto(f"{product}/")
        expect(customer.locator("iframe[data-casedesk-chat]")).to_have_count(1)
        customer.wait_for_function(
            "() => document.querySelector('iframe[data-casedesk-chat]') !== null"
        )
        frame = customer.frame_locator("iframe[data-casedesk-chat]")
        # The browser refuses the frame and says so on the console (events reach the
        # listener only while Playwright waits: wait for it unless it came already).
        if not any("frame-ancestors" in text for text in refusals):
            customer.wait_for_event(
                "console", predicate=lambda message: "frame-ancestors" in message.text
            )
        expect(frame.get_by_test_id("chat-widget")).to_have_count(0)

        # The product's own script cannot read casedesk with Alice's cookie ...
        read = customer.evaluate(
            """url => fetch(url, {credentials: "include"}).then(
                   r => "read " + r.status, e => "refused " + e.name)""",
            f"{casedesk}/chat/{chat.pk}/poll?after=0",
        )
        assert read == "refused TypeError"
        # ... nor open her chat's socket.
        closed = customer.evaluate(
            """url => new Promise(done => {
                   const socket = new WebSocket(url);
                   socket.onopen = () => done("opened");
                   socket.onclose = event => done("closed " + event.code);
               })""",
            f"{casedesk.replace('http', 'ws')}/ws/chat/{chat.pk}/",
        )
        assert closed == "closed 1006"
        customer.context.close()


def test_a_visitor_logs_in_from_the_frame_and_the_frame_follows(
    browser: Any,
    casedesk: str,
    product: str,
    alice: Any,
    agent: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    settings.CHAT_EMBED_ORIGINS = [product]
    monkeypatch.setattr(views, "RECHECK_SECONDS", 1)
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        in_thread(services.heartbeat, agent, True)
        visitor = chat_page(browser)
        visitor.goto(f"{product}/")
        frame = visitor.frame_locator("iframe[data-casedesk-chat]")
        frame.get_by_test_id("chat-toggle").click()
        with visitor.context.expect_page() as opened:
            frame.get_by_test_id("chat-login").click()
        tab = opened.value  # casedesk's log-in in a tab of its own (first-party)
        tab.wait_for_load_state()
        tab.fill("input[name=username]", alice.email)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")
        expect(tab.get_by_test_id("chat-signed-in")).to_be_visible()
        tab.close()
        # Back in the product: the frame noticed the log-in and offers the chat.
        expect(frame.get_by_test_id("chat-start")).to_be_visible()
        frame.get_by_test_id("chat-start").click()
        expect(frame.get_by_test_id("chat-log")).to_contain_text("You are in the queue")
        visitor.context.close()
