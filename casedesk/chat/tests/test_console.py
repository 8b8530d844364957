"""The agents' console: staff only, the queue in order with wait times, presence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from casedesk.accounts.models import User
from casedesk.chat import services
from casedesk.chat.models import CannedReply, Presence
from casedesk.chat.tests.conftest import WEDNESDAY_10AM, logged_in

pytestmark = pytest.mark.usefixtures("chat_db")


def test_the_console_is_for_staff_and_lists_canned_replies_and_colleagues(
    agent: Any, alice: Any, second_agent: Any
) -> None:
    CannedReply.objects.create(title="Greeting", body='Hi, I am looking at it "now" <b>.')
    page = logged_in(agent).get("/desk/chat/").content.decode()
    assert 'data-testid="chat-console"' in page
    assert "Greeting" in page and "&lt;b&gt;" in page and "<b>." not in page
    assert "Kim Agent" in page
    assert logged_in(alice).get("/desk/chat/").status_code == 404
    assert Client().get("/desk/chat/").status_code == 302


def test_the_heartbeat_marks_the_agent_available_and_answers_the_queue_oldest_first(
    agent: Any, alice: Any, bob: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        client = logged_in(agent)
        board = client.post("/desk/chat/heartbeat", {"available": "1"}).json()
        assert board["available"] is True and board["chat_open"] is True
        services.start(bob)
    with time_machine.travel(WEDNESDAY_10AM + timedelta(seconds=30), tick=False):
        services.start(alice)
        board = client.post("/desk/chat/heartbeat").json()
    assert [s["customer"] for s in board["queue"]] == ["Bob Example", "Alice Example"]
    assert board["mine"] == []
    assert Presence.objects.get(agent=agent).available is True


@pytest.mark.parametrize("flag", ["yes", "true", "2", "", "\x00"])
def test_a_garbage_available_flag_changes_nothing(agent: Any, flag: str) -> None:
    services.heartbeat(agent, available=True)
    assert logged_in(agent).post("/desk/chat/heartbeat", {"available": flag}).status_code == 200
    assert Presence.objects.get(agent=agent).available is True


def test_accept_and_transfer_over_http_and_garbage_targets(
    agent: Any, second_agent: Any, alice: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        services.heartbeat(agent, available=True)
        chat = services.start(alice)
        client = logged_in(agent)
        assert client.post(f"/desk/chat/{chat.pk}/accept").json()["session"]["status"] == "active"
        assert client.post(f"/desk/chat/{chat.pk}/accept").status_code == 409
        for garbage in ["", "abc", "-1", str(alice.pk), "9" * 40]:
            assert client.post(f"/desk/chat/{chat.pk}/transfer", {"to": garbage}).status_code == 409
        moved = client.post(f"/desk/chat/{chat.pk}/transfer", {"to": second_agent.pk}).json()
        assert moved["session"]["agent"] == "Kim"
        board = logged_in(second_agent).post("/desk/chat/heartbeat").json()
        assert [s["id"] for s in board["mine"]] == [chat.pk]
        assert User.objects.get(pk=alice.pk).is_customer


def test_an_ended_chat_without_a_case_stays_on_its_agents_console_for_a_day(
    agent: Any, alice: Any, second_agent: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        chat = services.start(alice)
        services.accept(chat, agent)
        services.end(chat, alice)
        client = logged_in(agent)
        board = client.post("/desk/chat/heartbeat").json()
        assert [(s["id"], s["status"], s["case"]) for s in board["mine"]] == [
            (chat.pk, "ended", "")
        ]
        # Only its own agent keeps it.
        assert logged_in(second_agent).post("/desk/chat/heartbeat").json()["mine"] == []
        # From the console the agent can still make it a case; then it leaves the console.
        answer = client.post(f"/desk/chat/{chat.pk}/case", {"subject": "Exports fail"})
        assert answer.status_code == 200
        assert client.post("/desk/chat/heartbeat").json()["mine"] == []


def test_an_ended_chat_without_a_case_leaves_the_console_after_a_day(
    agent: Any, alice: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        chat = services.start(alice)
        services.accept(chat, agent)
        services.end(chat, agent)
    with time_machine.travel(WEDNESDAY_10AM + timedelta(hours=23, minutes=59), tick=False):
        mine = logged_in(agent).post("/desk/chat/heartbeat").json()["mine"]
        assert [s["id"] for s in mine] == [chat.pk]
    with time_machine.travel(WEDNESDAY_10AM + timedelta(hours=24, minutes=1), tick=False):
        assert logged_in(agent).post("/desk/chat/heartbeat").json()["mine"] == []


def test_a_chat_transferred_back_is_on_the_first_agents_console_again(
    agent: Any, second_agent: Any, alice: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=True):
        services.heartbeat(agent, available=True)
        chat = services.start(alice)
        services.accept(chat, agent)
        client = logged_in(agent)
        client.post(f"/desk/chat/{chat.pk}/transfer", {"to": second_agent.pk})
        assert client.post("/desk/chat/heartbeat").json()["mine"] == []
        logged_in(second_agent).post(f"/desk/chat/{chat.pk}/transfer", {"to": agent.pk})
        mine = client.post("/desk/chat/heartbeat").json()["mine"]
        assert [(s["id"], s["status"]) for s in mine] == [(chat.pk, "active")]
