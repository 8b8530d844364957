"""One open chat per customer: two tabs (or a double click) starting at the same moment
get the same chat; the database refuses a second open one."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from casedesk.chat import services
from casedesk.chat.models import ChatSession, ChatStatus
from casedesk.chat.tests.conftest import logged_in

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def test_starts_racing_in_parallel_all_get_the_one_chat(alice: Any, on_duty: Any) -> None:
    racers = 4
    barrier = threading.Barrier(racers)
    results: list[int] = []
    errors: list[BaseException] = []

    def tab() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(services.start(alice).pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == racers and len(set(results)) == 1
    assert ChatSession.objects.filter(customer=alice).count() == 1
    chat = ChatSession.objects.get(customer=alice)
    # One queue message: the losers did not write into the winner's chat.
    assert chat.messages.count() == 1


def test_two_tabs_posting_start_get_the_same_chat(alice: Any, on_duty: Any) -> None:
    first = logged_in(alice).post("/chat/start").json()["session"]["id"]
    second = logged_in(alice).post("/chat/start").json()["session"]["id"]
    assert first == second


def test_the_database_refuses_a_second_open_chat(alice: Any, on_duty: Any) -> None:
    chat = services.start(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatSession.objects.create(customer=alice, organization=alice.organization)
    # Ended chats do not count: a new one may open after.
    services.end(chat, alice)
    again = services.start(alice)
    assert again.pk != chat.pk and again.status == ChatStatus.WAITING
    assert ChatSession.objects.filter(customer=alice).count() == 2
