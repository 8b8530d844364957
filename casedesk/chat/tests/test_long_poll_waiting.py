"""A waiting long poll holds no database connection: it waits on the channel layer for
the chat's next announcement, and wakes as soon as a message is stored."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from casedesk.chat.models import ChatMessage
from casedesk.chat.tests.conftest import (
    PATIENCE,
    cookie_for,
    send_through,
    serve_asgi,
    use_redis_layer,
)
from casedesk.core.tests.waiting import wait_until

pytestmark = [
    pytest.mark.usefixtures("chat_db", "support_open"),
    # WhiteNoise's files under ASGI (casedesk/asgi.py says why that is fine).
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

POLLS = 8


@pytest.fixture(params=["in-memory", "redis"])
def layer(request: Any, settings: Any, chat_db: None) -> str:
    """The in-memory channel layer (one web process), and Redis (several)."""
    if request.param == "redis":
        use_redis_layer(settings, "poll")
    return str(request.param)


def _server_connections() -> int:
    """Connections the database server has open to this database, ours excluded."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def _idle_in_pool() -> int:
    """Connections waiting in this process's pool for their next request (issue 18)."""
    pool = getattr(connection, "pool", None)
    return int(pool.get_stats().get("pool_available", 0)) if pool is not None else 0


def test_waiting_polls_hold_no_database_connection_and_wake_on_a_message(
    layer: str, chat: Any, alice: Any, on_duty: Any, settings: Any, polls_waiting: Any
) -> None:
    # Far longer than the test waits: a poll that returns did so because it was woken.
    settings.CHAT_POLL_SECONDS = 3600
    opened: list[Any] = []
    main = threading.current_thread()

    def record(sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not main:
            opened.append(connection)

    connection_created.connect(record)
    postgres = connection.vendor == "postgresql"
    last = ChatMessage.objects.filter(session=chat).latest("pk").pk
    customer_cookie = cookie_for(alice)[1].decode()
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    try:
        with serve_asgi() as base:
            baseline = _server_connections() if postgres else 0

            def poll() -> None:
                request = urllib.request.Request(
                    f"{base}/chat/{chat.pk}/poll?after={last}", headers={"Cookie": customer_cookie}
                )
                try:
                    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
                        answers.append(json.loads(response.read()))
                except BaseException as exc:
                    failures.append(exc)

            threads = [threading.Thread(target=poll) for _ in range(POLLS)]
            for thread in threads:
                thread.start()
            # Every poll has looked in the database and is waiting now.
            polls_waiting(POLLS)
            assert answers == [] and failures == []
            held = [wrapper for wrapper in opened if wrapper.connection is not None]
            assert held == [], f"{len(held)} of {POLLS} waiting polls hold a connection"
            if postgres:  # a closed connection's server process ends a moment later
                # (or, pooled, the connection waits idle in the pool for the next request)
                wait_until(
                    lambda: _server_connections() - _idle_in_pool() - baseline < 2,
                    PATIENCE,
                    "the waiting polls' server connections to end",
                )

            # The agent writes (through the server, as the console does): every poll wakes.
            send_through(base, chat.pk, on_duty, "Here I am")
            for thread in threads:
                thread.join(timeout=PATIENCE)
    finally:
        connection_created.disconnect(record)
    assert failures == []
    assert len(answers) == POLLS
    for answer in answers:
        assert [m["body"] for m in answer["messages"]] == ["Here I am"]
