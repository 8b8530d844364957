"""The portal's chat widget keeps up with the desk while the page stays open (support
closes, agents come and go), and works from a CDN (STATIC_URL on another host)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.contrib.staticfiles import finders
from playwright.sync_api import expect

from casedesk.chat import services, views
from casedesk.chat.tests.conftest import CT, WEDNESDAY_10AM
from e2e import chat_support
from e2e.chat_support import chat_page

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles", "priorities"),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

chat_server = chat_support.chat_server  # the fixture

CDN = "https://cdn.example.com/assets/"


@pytest.fixture
def base(chat_server: str, monkeypatch: Any) -> str:
    monkeypatch.setattr(views, "RECHECK_SECONDS", 1)
    return chat_server


def test_the_widget_goes_offline_when_support_closes_with_the_page_open(
    browser: Any, base: str, alice: Any, agent: Any
) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 18, 59, 55, tzinfo=CT), tick=True):
        services.heartbeat(agent, available=True)
        customer = chat_page(browser, base, alice.email)
        customer.goto(f"{base}/portal/")
        widget = customer.get_by_test_id("chat-widget")
        expect(widget).to_have_attribute("data-state", "open")
        customer.get_by_test_id("chat-toggle").click()
        expect(customer.get_by_test_id("chat-start")).to_be_visible()
        # 19:00 Chicago: support closes; the open page follows without a reload.
        expect(widget).to_have_attribute("data-state", "offline", timeout=15_000)
        expect(customer.get_by_test_id("chat-offline")).to_contain_text(
            "we are outside support hours"
        )
        expect(customer.get_by_test_id("chat-panel")).to_be_visible()  # still opened
        customer.context.close()


def test_the_widget_opens_and_closes_as_agents_come_and_go(
    browser: Any, base: str, alice: Any, agent: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        customer = chat_page(browser, base, alice.email)
        customer.goto(f"{base}/portal/")
        widget = customer.get_by_test_id("chat-widget")
        expect(widget).to_have_attribute("data-state", "offline")
        customer.get_by_test_id("chat-toggle").click()
        expect(customer.get_by_test_id("chat-offline")).to_contain_text("no agent is free")

        services.heartbeat(agent, available=True)
        expect(widget).to_have_attribute("data-state", "open")
        expect(customer.get_by_test_id("chat-start")).to_be_visible()

        services.heartbeat(agent, available=False)
        expect(widget).to_have_attribute("data-state", "offline")

        # A customer halfway through the leave-a-message form keeps what they wrote.
        customer.get_by_test_id("chat-leave-form").locator("input[name=subject]").fill("Half")
        services.heartbeat(agent, available=True)
        # Two rechecks later (about a second each here) it still has not redrawn itself.
        rechecked = int(widget.get_attribute("data-rechecked") or 0)
        expect(widget).to_have_attribute("data-rechecked", str(rechecked + 2), timeout=15_000)
        expect(widget).to_have_attribute("data-state", "offline")
        expect(
            customer.get_by_test_id("chat-leave-form").locator("input[name=subject]")
        ).to_have_value("Half")
        customer.context.close()


def test_the_widget_loads_its_files_from_a_cdn_static_url(
    browser: Any, base: str, alice: Any, agent: Any, settings: Any
) -> None:
    settings.STATIC_URL = CDN
    fetched: list[str] = []

    def cdn(route: Any) -> None:
        """The CDN (an internet service): serves the app's static files."""
        name = route.request.url.removeprefix(CDN).split("?")[0]
        found = finders.find(name)
        fetched.append(name)
        if found is None:
            route.fulfill(status=404)
        else:
            route.fulfill(path=str(found))

    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        services.heartbeat(agent, available=True)
        customer = chat_page(browser, base, alice.email)
        customer.context.route(f"{CDN}**", cdn)
        customer.goto(f"{base}/portal/")
        expect(customer.get_by_test_id("chat-widget")).to_have_attribute("data-state", "open")
        assert {"chat/widget.js", "chat/chat.css", "chat/transport.js"} <= set(fetched)
        # Styled by the CDN's stylesheet, and talking to casedesk itself.
        toggle = customer.get_by_test_id("chat-toggle")
        expect(toggle).to_have_css("background-color", "rgb(31, 78, 140)")
        toggle.click()
        customer.get_by_test_id("chat-start").click()
        expect(customer.get_by_test_id("chat-log")).to_contain_text("You are in the queue")
        customer.context.close()
