"""Live chat in a real browser, through the production ASGI stack (uvicorn, WebSockets).

A customer (Alice) and an agent (Sam) in two browser contexts: Sam's console marks him
available, Alice starts a chat from the portal widget, Sam accepts, they talk (with the
typing indicator), and Sam turns the chat into a case. After hours the widget is in
offline mode with the three critical-case options, and leaves a message as a case.

The server is uvicorn in a thread of the test process, serving ``casedesk.asgi`` on the
test database, so time-machine moves its clock too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from casedesk.cases.models import Case, Channel
from casedesk.chat.tests.conftest import SATURDAY_10AM, WEDNESDAY_10AM
from conftest import PASSWORD
from e2e import chat_support
from e2e.chat_support import chat_page, in_thread
from e2e.conftest import DESKTOP, PHONE
from e2e.steps import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles", "priorities"),
    # WhiteNoise's files under ASGI (casedesk/asgi.py says why that is fine).
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

chat_server = chat_support.chat_server  # the fixture


def test_a_customer_and_an_agent_chat_and_the_agent_turns_it_into_a_case(
    browser: Any, chat_server: str, alice: Any, agent: Any, screenshot_dir: Path
) -> None:
    base = chat_server
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        sam = chat_page(browser)
        log_in(sam, base, agent.email, PASSWORD)
        sam.goto(f"{base}/desk/chat/")
        expect(sam.get_by_test_id("chat-open-state")).to_have_text("Chat is open to customers.")

        customer = chat_page(browser)
        polls: list[str] = []
        customer.on("request", lambda r: polls.append(r.url) if "/poll" in r.url else None)
        log_in(customer, base, alice.email, PASSWORD)
        customer.goto(f"{base}/portal/")
        widget = customer.get_by_test_id("chat-widget")
        expect(widget).to_have_attribute("data-state", "open")
        customer.get_by_test_id("chat-toggle").click()
        customer.get_by_test_id("chat-start").click()
        log = customer.get_by_test_id("chat-log")
        expect(log).to_contain_text("You are in the queue")
        expect(customer.get_by_test_id("chat-status")).to_have_text("Waiting for an agent")

        queue = sam.get_by_test_id("chat-queue")
        expect(queue).to_contain_text("Alice Example")
        expect(queue).to_contain_text("Acme")
        queue.get_by_role("button", name="Accept").click()
        card = sam.get_by_test_id("chat-card")
        expect(card).to_contain_text("Alice Example")
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chatting with Sam")
        expect(log).to_contain_text("Sam joined the chat.")

        customer.fill("#cdchat-body", "Exports fail with a 502 <b>since 09:10</b>")
        customer.keyboard.press("Enter")
        expect(card.locator(".cdchat-log")).to_contain_text(
            "Exports fail with a 502 <b>since 09:10</b>"
        )
        card.locator("textarea").press_sequentially("Look")
        expect(customer.get_by_test_id("chat-typing")).to_have_text("Sam is typing…")
        card.locator("textarea").fill("Looking at it now: which project?")
        card.get_by_role("button", name="Send").click()
        expect(log).to_contain_text("Looking at it now: which project?")
        expect(customer.get_by_test_id("chat-typing")).to_be_hidden()
        # 24-hour times, as everywhere else in casedesk (the browser's en-US says "10:05 AM").
        for shown in (*log.locator("time").all_text_contents(),
                      *card.locator(".cdchat-log time").all_text_contents()):  # fmt: skip
            assert re.fullmatch(r"\d\d:\d\d", shown), shown
        customer.screenshot(path=str(screenshot_dir / "chat-customer-desktop.png"))
        sam.screenshot(path=str(screenshot_dir / "chat-console-desktop.png"), full_page=True)

        card.locator("input.subject").fill("Exports fail with 502")
        card.get_by_role("button", name="Open a case").click()
        expect(card.locator(".case-link")).to_contain_text("Chat ended: Case CD-")
        expect(card.locator(".reply textarea")).to_be_disabled()
        case = Case.objects.get(subject="Exports fail with 502")
        assert case.channel == Channel.CHAT and case.requester == alice
        assert "Exports fail with a 502 <b>since 09:10</b>" in case.description
        expect(log).to_contain_text(f"Sam opened case {case.reference} from this chat.")
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chat ended")
        expect(customer.locator("form.cdchat-send")).to_be_hidden()  # nothing more to send
        assert polls == []  # the whole chat went over the WebSocket

        # The transcript is on the case's timeline in the desk, escaped.
        sam.goto(f"{base}/desk/cases/{case.reference}/")
        expect(sam.locator("body")).to_contain_text(
            "Alice Example: Exports fail with a 502 <b>since 09:10</b>"
        )
        sam.context.close()
        customer.context.close()


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_after_hours_the_widget_shows_offline_mode_with_the_critical_options(
    browser: Any,
    chat_server: str,
    alice: Any,
    agent: Any,
    screenshot_dir: Path,
    label: str,
    viewport: dict[str, int],
) -> None:
    base = chat_server
    with time_machine.travel(SATURDAY_10AM, tick=True):
        extra: dict[str, Any] = (
            {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
            if label == "phone"
            else {}
        )
        customer = chat_page(browser, viewport=viewport, **extra)
        log_in(customer, base, alice.email, PASSWORD)
        customer.goto(f"{base}/portal/")
        expect(customer.get_by_test_id("chat-widget")).to_have_attribute("data-state", "offline")
        customer.get_by_test_id("chat-toggle").click()
        offline = customer.get_by_test_id("chat-offline")
        expect(offline).to_contain_text("we are outside support hours")
        expect(customer.get_by_test_id("chat-reopens")).to_contain_text(
            "Monday 30 November, 07:00 CST"
        )
        critical = customer.get_by_test_id("chat-critical")
        expect(
            critical.get_by_role("link", name="Open a case with priority Critical")
        ).to_have_attribute("href", "/portal/new/")
        expect(critical).to_contain_text("with “Critical” in the subject")
        expect(critical.locator("a[href^='tel:']")).to_have_text("+15555550100")
        customer.screenshot(path=str(screenshot_dir / f"chat-offline-{label}.png"))

        form = customer.get_by_test_id("chat-leave-form")
        form.locator("input[name=subject]").fill(f"Invoice question ({label})")
        form.locator("textarea[name=body]").fill("Which VAT rate applies to the renewal?")
        form.get_by_role("button", name="Leave the message").click()
        expect(customer.get_by_test_id("chat-left")).to_contain_text("We opened case CD-")
        case = Case.objects.get(subject=f"Invoice question ({label})")
        assert case.channel == Channel.CHAT and case.opened_after_hours
        customer.context.close()


def test_where_websockets_are_blocked_the_widget_chats_by_long_polling(
    browser: Any, live_server: Any, alice: Any, agent: Any, settings: Any
) -> None:
    """Django's test server speaks no WebSocket, like a proxy that drops the upgrade."""
    from casedesk.chat import services

    settings.CHAT_POLL_SECONDS = 2
    base = live_server.url
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        services.heartbeat(agent, available=True)
        customer = chat_page(browser)
        polls: list[str] = []
        customer.on("request", lambda r: polls.append(r.url) if "/poll" in r.url else None)
        log_in(customer, base, alice.email, PASSWORD)
        customer.goto(f"{base}/portal/")
        customer.get_by_test_id("chat-toggle").click()
        customer.get_by_test_id("chat-start").click()
        log = customer.get_by_test_id("chat-log")
        expect(log).to_contain_text("You are in the queue")
        chat = services.open_chat_of(alice)
        assert chat is not None
        services.accept(chat, agent)
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chatting with Sam")
        customer.fill("#cdchat-body", "Hello from behind a strict proxy")
        customer.keyboard.press("Enter")
        expect(log).to_contain_text("Hello from behind a strict proxy")
        services.post(chat, agent, "Hello, I can read you.")
        expect(log).to_contain_text("Hello, I can read you.")
        assert polls, "the widget never fell back to polling"
        assert [m.body for m in services.history(chat) if m.kind == "text"] == [
            "Hello from behind a strict proxy",
            "Hello, I can read you.",
        ]
        customer.context.close()


def test_when_sockets_keep_failing_after_one_worked_the_widget_falls_back_to_polling(
    browser: Any, chat_server: str, alice: Any, agent: Any, settings: Any
) -> None:
    """The socket worked, then the server cannot set sockets up any more (Redis away, or
    the person is at the socket cap): after a few reconnects closed before their first
    frame, the widget chats by long polling instead of reconnecting for ever."""
    from casedesk.chat import services

    settings.CHAT_POLL_SECONDS = 2
    base = chat_server
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        in_thread(services.heartbeat, agent, True)
        customer = chat_page(browser)
        sockets: list[Any] = []

        def route(ws: Any) -> None:
            # The first socket goes through to casedesk; every later one is accepted and
            # closed at once, as a consumer that fails after accepting does.
            sockets.append(ws)
            if len(sockets) == 1:
                ws.connect_to_server()
            else:
                ws.close(code=1011)

        log_in(customer, base, alice.email, PASSWORD)
        customer.route_web_socket("**/ws/chat/**", route)
        customer.goto(f"{base}/portal/")
        customer.get_by_test_id("chat-toggle").click()
        customer.get_by_test_id("chat-start").click()
        log = customer.get_by_test_id("chat-log")
        expect(log).to_contain_text("You are in the queue")
        assert len(sockets) == 1

        chat = in_thread(services.open_chat_of, alice)

        # The server restarts (the socket closes), and no socket can be set up after.
        def polling(request: Any) -> bool:
            return "/poll?" in request.url and "have=" in request.url

        with customer.expect_request(polling, timeout=20_000):
            sockets[0].close(code=1012)
        assert len(sockets) == 1 + 4  # four reconnects, then polling
        in_thread(services.accept, chat, agent)
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chatting with Sam")
        in_thread(services.post, chat, agent, "Still here, by polling.")
        expect(log).to_contain_text("Still here, by polling.")
        customer.context.close()
