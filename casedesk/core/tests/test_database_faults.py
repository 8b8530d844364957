"""The critical path under database faults: a proxy the test owns stands between
casedesk and PostgreSQL and refuses or black-holes connections (issue 16).

What must hold: /health/ and the SMTP receiver answer within their deadlines
(503, 451) instead of hanging; nothing acknowledged with 250 is lost or stored
twice; everything works again once the database is back. SQLite's fault, a
write lock held for long, is tested beside the features (test_health.py,
mail/tests/test_smtp.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import connection, connections

from casedesk.core.tests.dblock import holding_write_lock
from casedesk.core.tests.embedded import database_options, free_port
from casedesk.core.tests.faultproxy import FaultProxy
from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import proxy_to_test_database
from casedesk.mail.models import InboundMessage
from casedesk.mail.smtp import Receiver
from casedesk.mail.tests.conftest import build, send_one

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")

# How long a test waits for an answer before calling it a hang: well past every
# deadline below, so a loaded machine does not fail the test, well short of the
# minutes a hang used to last.
HANG = 20


@pytest.fixture
def proxied(transactional_db: None) -> Iterator[FaultProxy]:
    """Every new connection to the test database goes through a FaultProxy."""
    # pytest-django made the test database through this very dict, and every
    # connection of every thread is made from it: pointing it at the proxy puts
    # the test database behind the proxy.
    settings_dict = connection.settings_dict
    host, port = settings_dict["HOST"], settings_dict["PORT"]
    with proxy_to_test_database(
        "needs PostgreSQL (DATABASE_URL=postgres://...): the fault proxy stands between "
        "casedesk and a PostgreSQL server; SQLite's fault, a long-held write lock, is "
        "tested in test_health.py and mail/tests/test_smtp.py"
    ) as proxy:
        proxy.direct = {"HOST": host, "PORT": port}  # type: ignore[attr-defined]
        settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
        connections.close_all()
        try:
            yield proxy
        finally:
            proxy.heal()
            settings_dict["HOST"], settings_dict["PORT"] = host, port
            connections.close_all()


@pytest.fixture
def receiver(proxied: FaultProxy) -> Iterator[Receiver]:
    running = Receiver("127.0.0.1", free_port())
    running.start()
    yield running
    running.stop()


def answered(work: Callable[[], T], what: str) -> T:
    """``work()``'s result, or a failure (not a hung suite) if it takes longer than HANG."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    if thread.is_alive():
        raise AssertionError(f"{what} hung for more than {HANG} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


def send(receiver: Receiver, raw: bytes) -> tuple[int, bytes]:
    return send_one(receiver.host, receiver.port, raw, timeout=HANG)


def stored_copies(raw: bytes) -> int:
    import hashlib

    return InboundMessage.objects.filter(digest=hashlib.sha256(raw).hexdigest()).count()


def test_health_answers_503_within_its_deadline_while_the_database_is_black_holed(
    proxied: FaultProxy, client: Any, settings: Any
) -> None:
    settings.HEALTH_DB_SECONDS = 2
    assert client.get("/health/").status_code == 200  # through the proxy
    proxied.blackhole()
    response = answered(lambda: client.get("/health/"), "/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "error"
    assert body["reason"] == "the database did not take a write within 2 s"
    proxied.heal()
    assert client.get("/health/").status_code == 200


def test_smtp_answers_451_while_the_database_is_black_holed_and_the_retry_is_stored_once(
    receiver: Receiver, proxied: FaultProxy, settings: Any
) -> None:
    settings.SMTP_COMMIT_SECONDS = 2
    raw = build("Sent into the void", message_id="<void@client.example>")
    proxied.blackhole()
    code, answer = answered(lambda: send(receiver, raw), "the SMTP session")
    assert code == 451 and b"4.3.0" in answer
    proxied.heal()
    assert stored_copies(raw) == 0
    for _ in range(2):  # the sending server retries (twice, for good measure)
        assert send(receiver, raw)[0] == 250
    assert stored_copies(raw) == 1


def _waiting_on_a_lock(direct: dict[str, Any]) -> bool:
    watcher = connections.create_connection("default")
    watcher.settings_dict = {**watcher.settings_dict, **direct}
    try:
        with watcher.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(cursor.fetchone()[0])
    finally:
        watcher.close()


def test_a_commit_black_holed_midway_answers_451_frees_its_thread_and_commits_nothing(
    receiver: Receiver, proxied: FaultProxy, settings: Any
) -> None:
    """The connection is open and the insert sent when the path goes silent: the
    deadline still answers, the connection is cut so its thread ends, and the
    server rolls the half-done transaction back (the 451 was no lie)."""
    settings.SMTP_COMMIT_SECONDS = 3
    raw = build("Cut off midway", message_id="<midway@client.example>")
    direct = proxied.direct  # type: ignore[attr-defined]
    outcome: dict[str, Any] = {}
    sending = threading.Thread(target=lambda: outcome.update(answer=send(receiver, raw)))
    with holding_write_lock("mail_inboundmessage", **direct):
        sending.start()
        wait_until(lambda: _waiting_on_a_lock(direct), what="the insert to wait on the lock")
        proxied.blackhole()
    # The insert now goes through on the server; its answer and the COMMIT never pass.
    sending.join(HANG)
    assert not sending.is_alive(), "the SMTP session hung"
    code, answer = outcome["answer"]
    assert code == 451 and b"4.3.0" in answer
    wait_until(lambda: not any(t.name == "db-deadline" for t in threading.enumerate()), what="the timed-out commit's thread to end")
    proxied.heal()
    assert stored_copies(raw) == 0
    assert send(receiver, raw)[0] == 250
    assert stored_copies(raw) == 1


def test_refusing_the_database_during_a_burst_loses_no_acknowledged_message(
    receiver: Receiver, proxied: FaultProxy, settings: Any
) -> None:
    """60 messages from 3 senders; the database refuses connections midway. Every
    250 is a stored message; every 451 is retried by its sender and then stored;
    nothing is stored twice."""
    settings.SMTP_COMMIT_SECONDS = 3
    messages = [build(f"Burst {n}", message_id=f"<burst-{n}@client.example>") for n in range(60)]
    answers: dict[int, list[int]] = {n: [] for n in range(len(messages))}
    lock = threading.Lock()

    def sender(numbers: range) -> None:
        for n in numbers:
            code = send(receiver, messages[n])[0]
            with lock:
                answers[n].append(code)

    def count(code: int) -> int:
        with lock:
            return sum(codes.count(code) for codes in answers.values())

    senders = [threading.Thread(target=sender, args=(range(i, 60, 3),)) for i in range(3)]
    for thread in senders:
        thread.start()
    wait_until(lambda: count(250) >= 10, what="the first messages to be stored")
    proxied.refuse()
    wait_until(lambda: count(451) >= 5, what="messages refused while the database is away")
    proxied.heal()
    for thread in senders:
        thread.join(HANG * 3)
        assert not thread.is_alive()

    acknowledged = [n for n, codes in answers.items() if codes == [250]]
    refused = [n for n, codes in answers.items() if codes == [451]]
    assert len(acknowledged) + len(refused) == len(messages), answers
    assert refused, "the database never refused"
    for n in acknowledged:
        assert stored_copies(messages[n]) == 1
    for n in refused:  # the sending servers try again
        assert send(receiver, messages[n])[0] == 250
    assert InboundMessage.objects.count() == len(messages)
    assert all(stored_copies(raw) == 1 for raw in messages)


def test_postgresql_sessions_start_with_the_database_timeouts(transactional_db: None) -> None:
    """Before issue 16 none was set: a statement or a lock wait could run forever."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): server-side timeouts")
    options = connection.settings_dict["OPTIONS"]
    assert options["connect_timeout"] == 5
    assert (options["keepalives"], options["keepalives_idle"]) == (1, 30)
    with connection.cursor() as cursor:
        shown = {}
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    assert shown == {
        "statement_timeout": "30s",
        "lock_timeout": "10s",
        "idle_in_transaction_session_timeout": "5min",
    }


def test_the_database_timeouts_come_from_the_environment(tmp_path: Any) -> None:
    options = database_options(
        tmp_path,
        DATABASE_URL="postgres://casedesk@db.example.com:5432/casedesk",
        CASEDESK_DB_CONNECT_TIMEOUT="7s",
        CASEDESK_DB_STATEMENT_TIMEOUT="0s",
        CASEDESK_DB_LOCK_TIMEOUT="1m",
        CASEDESK_DB_KEEPALIVE_COUNT="5",
    )
    assert options["connect_timeout"] == 7
    assert options["keepalives_count"] == 5
    assert "-c statement_timeout=0 " in options["options"]
    assert "-c lock_timeout=60000 " in options["options"]
    sqlite = database_options(tmp_path, CASEDESK_DB_BUSY_TIMEOUT="3s")
    assert sqlite["timeout"] == 3


def test_a_bad_database_timeout_stops_start_up_naming_it(tmp_path: Any) -> None:
    result = database_options(tmp_path, CASEDESK_DB_CONNECT_TIMEOUT="soon")
    assert result.returncode == 2
    assert "casedesk: configuration error: CASEDESK_DB_CONNECT_TIMEOUT: bad duration" in (
        result.stderr
    )
