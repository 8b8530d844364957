"""The agents' chat console in the browser: the Available switch keeps the agent's
choice, a transferred chat leaves one console for another, an ended chat can still
become a case, and a message committed late takes its place by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import transaction
from playwright.sync_api import expect

from casedesk.accounts.models import User
from casedesk.cases.models import Case
from casedesk.chat import services
from casedesk.chat.models import ChatMessage, MessageKind, Presence
from casedesk.chat.tests.conftest import PATIENCE, WEDNESDAY_10AM
from casedesk.core.tests.waiting import wait_until
from conftest import PASSWORD
from e2e import chat_support
from e2e.chat_support import chat_page, in_thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles", "priorities"),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

chat_server = chat_support.chat_server  # the fixture


@pytest.fixture
def base(chat_server: str) -> str:
    return chat_server


def _start_chat(customer: Any, base: str) -> None:
    customer.goto(f"{base}/portal/")
    customer.get_by_test_id("chat-toggle").click()
    customer.get_by_test_id("chat-start").click()
    expect(customer.get_by_test_id("chat-log")).to_contain_text("You are in the queue")


def test_the_available_switch_shows_the_agents_kept_choice(
    browser: Any, base: str, agent: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        sam = chat_page(browser, base, agent.email)
        sam.goto(f"{base}/desk/chat/")
        switch = sam.get_by_test_id("chat-available")
        expect(switch).to_be_checked()  # the first visit makes him available
        expect(sam.get_by_test_id("chat-open-state")).to_have_text("Chat is open to customers.")
        switch.uncheck()
        expect(sam.get_by_test_id("chat-open-state")).to_have_text(
            "Chat is closed: no agent is available."
        )
        sam.reload()
        expect(switch).not_to_be_checked()
        # A heartbeat of the reloaded page (every 5 s) has come in: it kept him away.
        seen = Presence.objects.get(agent=agent).last_seen
        wait_until(
            lambda: Presence.objects.get(agent=agent).last_seen > seen,
            PATIENCE,
            "a heartbeat of the reloaded console",
        )
        assert Presence.objects.get(agent=agent).available is False
        expect(sam.get_by_test_id("chat-open-state")).to_have_text(
            "Chat is closed: no agent is available."
        )
        # A second tab switching him on: the first follows within a heartbeat.
        other = sam.context.new_page()
        other.goto(f"{base}/desk/chat/")
        other.get_by_test_id("chat-available").check()
        expect(switch).to_be_checked(timeout=30_000)
        sam.reload()
        expect(switch).to_be_checked()
        assert Presence.objects.get(agent=agent).available is True
        sam.context.close()


def test_a_transferred_chat_moves_consoles_and_an_ended_one_still_becomes_a_case(
    browser: Any, base: str, alice: Any, agent: Any, screenshot_dir: Path
) -> None:
    kim = User.objects.create_user("kim@example.com", PASSWORD, role="agent", full_name="Kim Agent")
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        sam = chat_page(browser, base, agent.email)
        sam.goto(f"{base}/desk/chat/")
        kims = chat_page(browser, base, kim.email)
        kims.goto(f"{base}/desk/chat/")
        customer = chat_page(browser, base, alice.email)
        _start_chat(customer, base)

        sam.get_by_test_id("chat-queue").get_by_role("button", name="Accept").click()
        sams_card = sam.get_by_test_id("chat-card")
        expect(sams_card).to_contain_text("Alice Example")
        sams_card.locator(".transfer-to").select_option(label="Kim Agent")
        sams_card.get_by_role("button", name="Transfer").click()

        # Sam's card is closed: nothing on it works any more.
        expect(sams_card).to_have_class("chat-card cdchat ended")
        for control in ("textarea", ".to-case", ".end", ".transfer"):
            expect(sams_card.locator(control)).to_be_disabled()
        # Kim has the chat now, and the customer is told.
        kims_card = kims.get_by_test_id("chat-card")
        expect(kims_card).to_contain_text("Alice Example")
        expect(kims_card.locator(".cdchat-log")).to_contain_text("Sam transferred the chat to Kim.")
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chatting with Kim")
        kims_card.locator("textarea").fill("Kim here, I have your chat now.")
        kims_card.get_by_role("button", name="Send").click()
        expect(customer.get_by_test_id("chat-log")).to_contain_text("Kim here")

        kims_card.get_by_role("button", name="End chat").click()
        expect(customer.get_by_test_id("chat-status")).to_have_text("Chat ended")
        # Ended, not yet on a case: no more replies, but a case can still be made of it.
        expect(kims_card.locator("textarea")).to_be_disabled()
        expect(kims_card.locator(".transfer")).to_be_disabled()
        expect(kims_card.locator(".to-case")).to_be_enabled()
        kims.screenshot(path=str(screenshot_dir / "chat-console-ended.png"), full_page=True)
        kims_card.locator("input.subject").fill("Chat after the transfer")
        kims_card.get_by_role("button", name="Open a case").click()
        expect(kims_card.locator(".case-link")).to_contain_text("Case CD-")
        case = Case.objects.get(subject="Chat after the transfer")
        assert "Kim here, I have your chat now." in case.description
        for page in (sam, kims, customer):
            page.context.close()


def _late_message(chat_id: int, gap: int, author: Any) -> None:
    """A message whose id is below one already shown: its transaction took an id first
    and committed after a newer message (PostgreSQL hands ids out before commit)."""
    with transaction.atomic():
        message = ChatMessage.objects.create(
            pk=gap, session_id=chat_id, author=author, kind=MessageKind.TEXT, body="Late"
        )
        services._announce_message(message)


@pytest.mark.every_database  # ids and commit order are the database's: run on PostgreSQL too
def test_a_message_committed_late_is_shown_in_its_place_not_at_the_bottom(
    browser: Any, base: str, alice: Any, agent: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        sam = chat_page(browser, base, agent.email)
        sam.goto(f"{base}/desk/chat/")
        customer = chat_page(browser, base, alice.email)
        _start_chat(customer, base)
        sam.get_by_test_id("chat-queue").get_by_role("button", name="Accept").click()
        card = sam.get_by_test_id("chat-card")
        card.locator("textarea").fill("Early")
        card.get_by_role("button", name="Send").click()
        log = customer.get_by_test_id("chat-log")
        expect(log).to_contain_text("Early")
        chat = services.open_chat_of(alice)
        assert chat is not None
        # Leave a gap in the ids: the late message will take it.
        placeholder = ChatMessage.objects.create(session=chat, kind=MessageKind.SYSTEM)
        gap = placeholder.pk
        placeholder.delete()
        card.locator("textarea").fill("Newer")
        card.get_by_role("button", name="Send").click()
        expect(log).to_contain_text("Newer")
        in_thread(_late_message, chat.pk, gap, agent)
        expect(log).to_contain_text("Late")
        expect(card.locator(".cdchat-log")).to_contain_text("Late")
        for shown in (log, card.locator(".cdchat-log")):
            bodies = shown.locator(".cdchat-body").all_inner_texts()
            assert bodies[-3:] == ["Early", "Late", "Newer"], bodies
        sam.context.close()
        customer.context.close()
