"""Mail in batches (issue 18): one task processes many stored messages, and each message
still gets exactly its own outcome; a critical one does not wait behind the batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail as outbox
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.accounts.models import User
from casedesk.cases.models import Case, EventKind
from casedesk.core.tasks import CRITICAL, requeue_abandoned_tasks
from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import start_worker, stop_worker
from casedesk.lib.env import Rate
from casedesk.mail.models import Bounce, InboundMessage, MessageKey, Source, State
from casedesk.mail.store import store, subject_says_critical
from casedesk.mail.tasks import process_batch, process_message
from casedesk.mail.tests.conftest import build
from casedesk.mail.tests.dnsserver import Zone
from casedesk.mail.tests.test_pipeline import _delivery_report
from casedesk.mail.tests.test_sender_policy import FORGER_IP, forged_globex

pytestmark = pytest.mark.django_db(transaction=True)

PROCESS = process_message.module_path
# What one more message of a batch costs in SQL statements (a new case: its message key,
# case, events, rate limit, its tasks in one insert; 22 today). The single path costs 32,
# with three commits of its own and the task's claim and finish beside them.
PER_MESSAGE_MAX = 23


def put(
    raw: bytes,
    *,
    envelope_from: str | None = "alice@acme.example",
    source_ip: str | None = "192.0.2.10",
    **kwargs: Any,
) -> int:
    """Store as the SMTP receiver would (the processing task is enqueued); the row's id."""
    kwargs.setdefault("client_ip", source_ip)
    return store(
        raw,
        source=Source.SMTP,
        envelope_from=envelope_from,
        recipients=["support@example.com"],
        **kwargs,
    ).message.pk


def state(pk: int) -> InboundMessage:
    return InboundMessage.objects.get(pk=pk)


@pytest.fixture
def backlog(mail_setup: None, alice: Any) -> Iterator[None]:
    yield


def test_a_batch_gives_each_message_its_own_outcome(
    mail_setup: None,
    alice: Any,
    bob: Any,
    open_case: Any,
    dns_zone: Zone,
    run_tasks: Any,
) -> None:
    from casedesk.core.mail import thread_message_id

    forged_globex(dns_zone)
    earlier = open_case(alice, "Medium")
    new = put(build("Export broken", "It times out.", message_id="<new-1@acme.example>"))
    reply = put(
        build(
            "Re: Export broken",
            "Still broken.\n\n> It times out.",
            message_id="<reply-1@acme.example>",
            headers={"In-Reply-To": "<new-1@acme.example>"},
        )
    )
    copy = put(
        build(
            "Export broken",
            "It times out.",
            message_id="<new-1@acme.example>",
            headers={"Received": "from a second path"},
        )
    )
    bounce = put(
        _delivery_report("alice@acme.example", "5.1.1", thread_message_id(earlier.reference)),
        envelope_from="",
    )
    garbage = put(b"\x00\xff\xfe garbage \x00 with no header at all \xff" * 20)
    forged = put(
        build("Invoice", sender="Bob Example <bob@globex.example>"),
        envelope_from="bob@globex.example",
        client_ip=FORGER_IP,
    )
    run_tasks()

    opened = state(new)
    assert opened.state == State.CREATED and opened.case is not None
    assert state(reply).state == State.REPLIED and state(reply).case == opened.case
    assert opened.case.events.filter(kind=EventKind.REPLY, body="Still broken.").exists()
    assert state(copy).state == State.IGNORED and "a second copy" in state(copy).outcome
    assert state(bounce).state == State.BOUNCE
    assert Bounce.objects.get().case == earlier
    assert state(garbage).state == State.NEEDS_ATTENTION
    assert state(forged).state == State.SUSPENDED and state(forged).case is None
    assert Case.objects.count() == 2  # the earlier one and the new one: nothing else
    # Its tasks, inserted together, ran: the auto-reply went out; its SLA checks wait.
    [auto_reply] = [m for m in outbox.outbox if opened.case.reference in m.subject]
    assert auto_reply.to == ["alice@acme.example"]
    checks = DBTaskResult.objects.filter(
        task_path="casedesk.cases.tasks.check_sla", args_kwargs__args__0=opened.case.pk
    )
    assert checks.count() == 4 and {r.status for r in checks} == {"READY"}
    # One batch did it all: one task ran, the others were claimed by it, each recorded
    # with its own message's outcome.
    rows = DBTaskResult.objects.filter(task_path=PROCESS)
    assert set(rows.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert {tuple(r.worker_ids) for r in rows} == {tuple(rows[0].worker_ids)}
    by_message = {r.args_kwargs["args"][0]: r.return_value for r in rows}
    assert by_message[new] == opened.outcome == f"created {opened.case.reference} Medium"
    assert by_message[forged] == state(forged).outcome


def test_a_message_that_raises_is_flagged_alone_and_its_writes_rolled_back(
    mail_setup: None, alice: Any, run_tasks: Any, monkeypatch: Any
) -> None:
    from casedesk.mail import process as pipeline

    real = pipeline._new_case

    def sometimes_broken(message: Any, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        outcome = real(message, parsed, *args, **kwargs)
        if parsed.subject == "Boom":
            raise KeyError("surprise")  # after its case was written
        return outcome

    monkeypatch.setattr(pipeline, "_new_case", sometimes_broken)
    before = put(build("Before"))
    boom = put(build("Boom"))
    after = put(build("After", sender="New Colleague <carol@acme.example>"))
    run_tasks()
    assert state(before).state == State.CREATED and state(after).state == State.CREATED
    assert state(boom).state == State.NEEDS_ATTENTION
    assert state(boom).outcome == "needs attention: processing failed: KeyError: 'surprise'"
    assert sorted(Case.objects.values_list("subject", flat=True)) == ["After", "Before"]
    # The tasks the rolled-back message enqueued were never inserted.
    confirmations = DBTaskResult.objects.filter(
        task_path="casedesk.cases.tasks.send_case_confirmation"
    )
    assert sorted(r.args_kwargs["args"][0] for r in confirmations) == sorted(
        Case.objects.values_list("pk", flat=True)
    )
    assert User.objects.filter(email="carol@acme.example").count() == 1


def test_the_sql_of_a_batch_grows_by_a_bounded_amount_per_message(
    mail_setup: None, alice: Any
) -> None:
    def cost(count: int, tag: str) -> int:
        pks = [put(build(f"Problem {tag}{n}", f"Details {n}")) for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            lines, left = process_batch(pks, seconds=60)
        assert left == [] and all(line.startswith("created ") for line in lines.values())
        return len(queries.captured_queries)

    cost(2, "warm-")  # the first case of a day loads the calendar
    five, twenty_five = cost(5, "a"), cost(25, "b")
    assert (twenty_five - five) / 20 <= PER_MESSAGE_MAX
    assert InboundMessage.objects.filter(state=State.CREATED).count() == 32


def test_a_batch_stops_reading_after_its_time_and_leaves_the_rest_pending(
    mail_setup: None, alice: Any
) -> None:
    pks = [put(build(f"Problem {n}")) for n in range(3)]
    lines, left = process_batch(pks, first=pks[1], seconds=0)
    assert set(lines) == {pks[0], pks[1]} and left == [pks[2]]
    assert state(pks[2]).state == State.PENDING


def test_large_messages_are_loaded_one_at_a_time_and_processed_alike(
    mail_setup: None, alice: Any, monkeypatch: Any
) -> None:
    from casedesk.mail import tasks

    pks = [put(build(f"Problem {n}", "x" * (100 * n))) for n in range(4)]
    monkeypatch.setattr(tasks, "SMALL_BYTES", state(pks[1]).size)
    with CaptureQueriesContext(connection) as queries:
        lines, left = process_batch(pks, seconds=60)
    assert left == [] and all(lines[pk].startswith("created ") for pk in pks)
    # One query for the two small ones, then one each for the two larger ones.
    raws = [q for q in queries.captured_queries if '"raw"' in q["sql"].split("FROM")[0]]
    assert len(raws) == 3


@pytest.mark.parametrize(
    "raw, critical",
    [
        (build("CRITICAL: site down"), True),
        (build("=?utf-8?q?CRITICAL=3A_site_down?="), True),
        (build("Critical bug? No, a question"), True),  # rules' test, as the pipeline's
        (build("Invoices"), False),
        (b"Subject: critical\n\nno From, still a look at the subject", True),
        (b"", False),
        (b"\x00\xff\xfe\r\n\r\n", False),
        (b"Subject: =?bogus?x?\xff\xfe?=\r\n\r\n", False),
        (b"X: " + b"a" * 200_000 + b"\r\nSubject: critical\r\n\r\n", False),
        (b"Subject: " + "\udcff".encode("utf-8", "surrogatepass") + b"\r\n\r\n", False),
    ],
)
def test_the_critical_look_at_the_subject_takes_garbage(raw: bytes, critical: bool) -> None:
    assert subject_says_critical(raw) is critical


def test_critical_mail_is_enqueued_alone_on_the_critical_queue(mail_setup: None) -> None:
    ordinary = put(build("Invoices"))
    urgent = put(build("CRITICAL: site down"))
    queues = {
        r.args_kwargs["args"][0]: r.queue_name
        for r in DBTaskResult.objects.filter(task_path=PROCESS)
    }
    assert queues == {ordinary: "default", urgent: CRITICAL}


def test_a_flood_of_critical_mail_from_one_server_leaves_the_critical_lane_to_the_pages(
    mail_setup: None, settings: Any
) -> None:
    settings.RATE_MAIL_CRITICAL_LANE = Rate(2, timedelta(minutes=10))
    flood = [put(build(f"CRITICAL {n}"), client_ip="203.0.113.66") for n in range(4)]
    other = put(build("CRITICAL: site down"), client_ip="198.51.100.25")
    by_pipe = [put(build(f"CRITICAL pipe {n}"), source_ip=None) for n in range(3)]
    queues = {
        r.args_kwargs["args"][0]: r.queue_name
        for r in DBTaskResult.objects.filter(task_path=PROCESS)
    }
    assert [queues[pk] for pk in flood] == [CRITICAL, CRITICAL, "default", "default"]
    assert queues[other] == CRITICAL  # another server has its own allowance
    # No server known (a pipe without --client-ip): the From: domain is the key.
    assert [queues[pk] for pk in by_pipe] == [CRITICAL, CRITICAL, "default"]


def test_a_critical_mail_is_not_held_up_by_a_backlog_of_ordinary_mail(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    ordinary = [put(build(f"Question {n}", f"Details {n}")) for n in range(500)]
    urgent = put(build("CRITICAL: production down", "Nobody can log in."))
    worker = start_worker(tmp_path)
    try:
        wait_until(
            lambda: not InboundMessage.objects.filter(state=State.PENDING).exists(),
            300,
            "the backlog to be processed",
        )
    finally:
        stop_worker(worker)
    critical_case = state(urgent).case
    assert critical_case is not None and critical_case.priority.is_critical
    cases = Case.objects.filter(inbound_messages__in=ordinary)
    # Its case was opened before the ordinary backlog was done (cases are numbered in
    # the order they are opened), though it was stored after all of it.
    assert critical_case.pk < max(cases.values_list("pk", flat=True))
    assert cases.count() == 500


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    count = 200
    pks = [put(build(f"Question {n}", f"Details {n}")) for n in range(count)]
    worker = start_worker(tmp_path)
    try:
        wait_until(
            lambda: InboundMessage.objects.exclude(state=State.PENDING).exists(),
            120,
            "the first batch to commit",
        )
    finally:
        stop_worker(worker)  # SIGKILL: the supervisor and its lanes
    pending = InboundMessage.objects.filter(state=State.PENDING).count()
    assert 0 < pending < count
    # The abandoned-task sweep, a few minutes on, puts back what the dead worker held.
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        requeue_abandoned_tasks.call()
    assert not DBTaskResult.objects.filter(task_path=PROCESS, status="RUNNING").exists()
    worker = start_worker(tmp_path)
    try:
        wait_until(
            lambda: not InboundMessage.objects.filter(state=State.PENDING).exists(),
            300,
            "the rest to be processed",
        )
        wait_until(
            lambda: (
                not DBTaskResult.objects.filter(
                    task_path=PROCESS, status__in=["READY", "RUNNING"]
                ).exists()
            ),
            60,
            "every task row to be finished",
        )
    finally:
        stop_worker(worker)
    assert InboundMessage.objects.filter(pk__in=pks, state=State.CREATED).count() == count
    assert Case.objects.count() == count and MessageKey.objects.count() == count
    for case in Case.objects.all():
        assert case.events.filter(kind=EventKind.OPENED).count() == 1
    assert not DBTaskResult.objects.filter(task_path=PROCESS, status="FAILED").exists()


def test_tasks_enqueued_in_bulk_go_in_together_at_the_end_or_not_at_all(db: None) -> None:
    from casedesk.core.tasks import enqueue_in_bulk
    from casedesk.mail.tasks import notify_held_critical

    rows = DBTaskResult.objects.filter(task_path=notify_held_critical.module_path)
    with CaptureQueriesContext(connection) as queries, enqueue_in_bulk():
        notify_held_critical.enqueue(1)
        notify_held_critical.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(2)
        assert not rows.exists()  # not yet
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert {(r.args_kwargs["args"][0], r.task.run_after is None) for r in rows} == {
        (1, True),
        (2, False),
    }
    with pytest.raises(KeyError), enqueue_in_bulk():
        notify_held_critical.enqueue(3)
        raise KeyError("the block failed")
    notify_held_critical.enqueue(4)  # outside a block: at once, as ever
    assert sorted(r.args_kwargs["args"][0] for r in rows.all()) == [1, 2, 4]


def test_a_batch_that_cannot_be_claimed_processes_its_own_message(
    mail_setup: None, alice: Any, run_tasks: Any, monkeypatch: Any
) -> None:
    from django.db import OperationalError

    from casedesk.mail import tasks

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(tasks, "_claim_others", locked)
    pks = [put(build(f"Problem {n}")) for n in range(3)]
    run_tasks()  # each task alone
    assert {state(pk).state for pk in pks} == {State.CREATED}
    assert {r.status for r in DBTaskResult.objects.filter(task_path=PROCESS)} == {"SUCCESSFUL"}


def test_a_chunk_that_deadlocks_is_written_again_one_message_at_a_time(
    mail_setup: None, alice: Any, monkeypatch: Any
) -> None:
    """Two batches on PostgreSQL may lock a sender's rate-limit bucket and a case in
    opposite orders; the database then ends one transaction. Stands in for that here."""
    from django.db import OperationalError

    from casedesk.mail import tasks

    real = tasks._write_one
    calls: list[int] = []

    def deadlocking(pk: int, item: Any, message: Any) -> str:
        calls.append(pk)
        if len(calls) == 2:  # the chunk's second message, after the first was written
            raise OperationalError("deadlock detected")
        return real(pk, item, message)

    monkeypatch.setattr(tasks, "_write_one", deadlocking)
    pks = [put(build(f"Problem {n}", sender=f"P{n} <p{n}@acme.example>")) for n in range(3)]
    lines, left = process_batch(pks, seconds=60)
    assert left == [] and {state(pk).state for pk in pks} == {State.CREATED}
    assert calls == [pks[0], pks[1], pks[0], pks[1], pks[2]]
    assert Case.objects.count() == 3 and MessageKey.objects.count() == 3
    assert User.objects.filter(email__in=[f"p{n}@acme.example" for n in range(3)]).count() == 3
    assert lines == {pk: state(pk).outcome for pk in pks}


def test_on_postgresql_a_chunk_holds_a_lock_per_sender_domain_while_it_writes(
    mail_setup: None, alice: Any, bob: Any, monkeypatch: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: no locks to order")
    from casedesk.mail import tasks

    real = tasks._write_one
    held: list[int] = []

    def counting(pk: int, item: Any, message: Any) -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted"
            )
            held.append(cursor.fetchone()[0])
        return real(pk, item, message)

    monkeypatch.setattr(tasks, "_write_one", counting)
    pks = [
        put(build("One")),
        put(build("Two", sender="Ann <ann@acme.example>")),
        put(build("Three", sender="Bob Example <bob@globex.example>")),
    ]
    process_batch(pks, seconds=60)
    assert held == [2, 2, 2]  # acme.example and globex.example, for the whole chunk
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert cursor.fetchone()[0] == 0  # released with the commit


def test_a_batch_claims_its_neighbours_and_records_them_in_one_statement_each(
    mail_setup: None,
) -> None:
    from casedesk.mail import tasks

    lead, *others = [put(build(f"Problem {n}")) for n in range(6)]
    retry = process_message.using(run_after=timezone.now() - timedelta(seconds=1)).enqueue(99)
    rows = DBTaskResult.objects.filter(task_path=PROCESS)
    lead_row = rows.get(args_kwargs__args=[lead])
    lead_row.claim("lane-1")
    running = tasks._Running(str(lead_row.id), "default", "lane-1", lead)
    with CaptureQueriesContext(connection) as queries:
        claimed = tasks._claim_others(running, 49)
    assert sorted(claimed.values()) == others  # a retry (run_after) runs on its own
    assert [
        q["sql"].split()[0] for q in queries.captured_queries if "dbtaskresult" in q["sql"]
    ] == [
        "SELECT",
        "UPDATE",
    ]
    assert {tuple(r.worker_ids) for r in rows.filter(id__in=list(claimed))} == {("lane-1",)}
    assert rows.get(id=retry.id).status == "READY"
    back = next(iter(claimed))
    with CaptureQueriesContext(connection) as queries:
        tasks._finish_rows(
            {row: f"line {pk}" for row, pk in claimed.items() if row != back}, [back]
        )
    updates = [q["sql"] for q in queries.captured_queries if "UPDATE" in q["sql"][:20]]
    # The outcomes: one statement, run once per row (executemany); the row put back.
    assert len(updates) == 2 and updates[0].startswith(f"{len(claimed) - 1} times: UPDATE")
    assert {r.return_value for r in rows.filter(status="SUCCESSFUL")} == {
        f"line {pk}" for row, pk in claimed.items() if row != back
    }
    assert rows.get(id=back).status == "READY" and rows.get(id=back).started_at is None
