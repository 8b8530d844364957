"""One open chat per customer: two tabs (or a double click) starting at the same moment
get the same chat; the database refuses a second open one; and migration chat/0002, which
brought the rule in, ends a customer's extra open chats without losing anything said."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from casedesk.cases.models import EventKind
from casedesk.chat import services
from casedesk.chat.models import ENDED_AS_DUPLICATE, ChatSession, ChatStatus
from casedesk.chat.tests.conftest import logged_in
from casedesk.core.tests.concurrency import race

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def test_starts_racing_in_parallel_all_get_the_one_chat(alice: Any, on_duty: Any) -> None:
    results = race(4, lambda: services.start(alice).pk)
    assert len(set(results)) == 1
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


# ---- Migration chat/0002: a customer's open chats from before the rule --------------------


@pytest.fixture
def before_0002(chat_db: None) -> Any:
    """The database as chat/0001 left it (no one-open-chat constraint), its models; moved
    forward to the newest migration again afterwards."""
    executor = MigrationExecutor(connection)
    target = [("chat", "0001_initial")]
    executor.migrate(target)
    yield executor.loader.project_state(target).apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def said(apps: Any, session: int, author: Any, text: str, at: Any) -> None:
    """A text message in a chat of the database before 0002."""
    apps.get_model("chat", "ChatMessage").objects.create(
        session_id=session, author_id=author.pk, kind="text", body=text, at=at
    )


def migrate_to_0002() -> None:
    MigrationExecutor(connection).migrate([("chat", "0002_one_open_chat_per_customer")])


def test_the_migration_keeps_the_chat_an_agent_is_answering_and_ends_the_newer_idle_one(
    before_0002: Any, alice: Any, agent: Any
) -> None:
    Then = before_0002.get_model("chat", "ChatSession")
    now = timezone.now()
    # Tab 1: a chat an agent accepted and is answering. Tab 2 (later): a second chat,
    # still waiting, nothing said in it.
    talking = Then.objects.create(
        customer_id=alice.pk,
        organization_id=alice.organization_id,
        status="active",
        agent_id=agent.pk,
        created_at=now - timedelta(minutes=10),
        accepted_at=now,
    )
    for author, text, ago in [(alice, "Production is down", 9), (agent, "Looking at it now", 8)]:
        said(before_0002, talking.pk, author, text, now - timedelta(minutes=ago))
    idle = Then.objects.create(
        customer_id=alice.pk,
        organization_id=alice.organization_id,
        status="waiting",
        created_at=now - timedelta(minutes=1),
    )
    migrate_to_0002()

    assert ChatSession.objects.get(pk=talking.pk).status == "active"
    ended = ChatSession.objects.get(pk=idle.pk)
    assert ended.status == "ended" and ended.ended_at is not None
    assert list(ended.messages.values_list("kind", "body")) == [("system", ENDED_AS_DUPLICATE)]
    assert not ChatSession.objects.get(pk=talking.pk).messages.filter(kind="system").exists()


def test_the_migration_keeps_the_chat_with_the_latest_message_and_agents_see_the_other(
    before_0002: Any, alice: Any, bob: Any, agent: Any, desk: Any
) -> None:
    """Two waiting chats: the one written in last is kept. The other one ends, and what
    the customer wrote there stays on the agents' consoles (unfiled) until someone puts it
    on a case; a chat nobody wrote in does not."""
    Then = before_0002.get_model("chat", "ChatSession")
    now = timezone.now()

    def chat(customer: Any, minutes_ago: int, text: str = "", said_ago: int = 0) -> int:
        session = Then.objects.create(
            customer_id=customer.pk,
            organization_id=customer.organization_id,
            status="waiting",
            created_at=now - timedelta(minutes=minutes_ago),
        )
        if text:
            said(before_0002, session.pk, customer, text, now - timedelta(minutes=said_ago))
        return int(session.pk)

    older_but_latest = chat(alice, 20, "Hello? Still there?", said_ago=1)
    newer = chat(alice, 10, "Our exports fail", said_ago=9)
    bob_keeps = chat(bob, 5)
    bob_empty = chat(bob, 6)
    migrate_to_0002()

    status = dict(ChatSession.objects.values_list("pk", "status"))
    assert status == {
        older_but_latest: "waiting",
        newer: "ended",
        bob_keeps: "waiting",
        bob_empty: "ended",
    }
    board = desk.post("/desk/chat/heartbeat").json()
    # Alice's words in the ended chat are on the console, to file; Bob's empty one is not.
    assert [card["id"] for card in board["mine"]] == [newer]
    case = services.to_case(ChatSession.objects.get(pk=newer), agent)
    assert "Our exports fail" in case.events.get(kind=EventKind.OPENED).body
    assert desk.post("/desk/chat/heartbeat").json()["mine"] == []
