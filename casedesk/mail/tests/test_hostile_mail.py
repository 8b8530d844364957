"""Hostile mail cannot freeze the desk (issue 16): bounded parsing, outside any transaction.

A 450 KB body of nested ``<div>`` held SQLite's write lock for three minutes (every
log-in failed with "database is locked"); MIME nested 5,000 deep was unreadable. Each
test here reproduces one of those and checks that the message is kept, its case
opened (and paged, when critical) with what could be read, and the rest flagged.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.cases.models import Case, EventKind
from casedesk.mail import process as process_module
from casedesk.mail.models import InboundMessage, MessageKey, State
from casedesk.mail.parse import parse
from casedesk.mail.process import FALLBACK_BYTES, process
from casedesk.mail.store import store
from casedesk.mail.tests.conftest import build, div_soup, nested_multipart, rfc822_chain


def _notes(case: Case) -> list[str]:
    return list(case.events.filter(kind=EventKind.NOTE).values_list("body", flat=True))


@pytest.mark.django_db
def test_a_hostile_html_mail_opens_its_critical_case_with_a_link_to_the_original(
    deliver: Any, alice: Any
) -> None:
    raw = div_soup(75_000)
    outcome = deliver(raw)
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Critical"
    message = InboundMessage.objects.get()
    assert bytes(message.raw) == raw  # the original, whole
    assert message.html == "" and "too complex to display" in message.notice
    assert case.description.startswith("x\nx\nx")
    [note] = [n for n in _notes(case) if "too complex to display" in n]
    assert f"/desk/mail/{message.pk}/raw/" in note


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", [nested_multipart, rfc822_chain], ids=["multipart", "rfc822"])
def test_mime_nested_5000_deep_opens_the_case_with_what_was_read(
    deliver: Any, alice: Any, hostile: Any
) -> None:
    outcome = deliver(hostile(5000))
    case = Case.objects.get()
    assert outcome.state == State.CREATED and case.priority.is_critical
    message = InboundMessage.objects.get()
    assert "nested more than 50 levels deep" in message.notice
    assert any("nested more than 50 levels deep" in note for note in _notes(case))


@pytest.mark.django_db
def test_a_parse_past_its_time_limit_is_stopped_and_the_case_still_opens(
    deliver: Any, alice: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse runs in a child process that is killed at CASEDESK_MAIL_PARSE_SECONDS.

    What takes too long is played by a parse that never ends (nh3 on hostile HTML is
    just as deaf to Python's signals); the fallback reads the message's first bytes.
    """
    settings.MAIL_PARSE_SECONDS = 1

    def never_ends_on_the_whole_message(raw: bytes, limits: Any = None) -> Any:
        while len(raw) > FALLBACK_BYTES:
            pass
        return parse(raw, limits)

    monkeypatch.setattr(process_module, "parse", never_ends_on_the_whole_message)
    raw = build(
        "CRITICAL: checkout down",
        "Nobody can pay since 02:00.",
        html="<p>Nobody can pay since 02:00.</p>" * 20_000,
    )
    outcome = deliver(raw)
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Critical"
    assert case.description == "Nobody can pay since 02:00."
    message = InboundMessage.objects.get()
    assert "too complex to display (reading it took more than 1 s)" in message.notice
    assert any(f"/desk/mail/{message.pk}/raw/" in note for note in _notes(case))


@pytest.mark.django_db(transaction=True)
def test_parsing_holds_no_transaction_and_no_lock_so_log_ins_go_on(
    mail_setup: None, alice: Any, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a message is parsed (seconds, for a hostile one), another connection can
    lock the message's row and write (a log-in): SQLite's write lock and PostgreSQL's
    row lock are taken only to write the outcome."""
    stored = store(build("CRITICAL: site down", "Nobody can log in."), source="smtp")
    seen: dict[str, Any] = {}

    def other_connection_writes() -> None:
        try:
            with transaction.atomic():
                locked = InboundMessage.objects.select_for_update(nowait=True)
                list(locked.filter(pk=stored.message.pk).values_list("pk"))
                User.objects.filter(pk=agent.pk).update(last_login=timezone.now())
            seen["wrote"] = True
        except Exception as exc:
            seen["error"] = exc
        finally:
            connections.close_all()

    def parse_and_watch(raw: bytes, limits: Any = None) -> Any:
        seen["in_transaction"] = connection.in_atomic_block
        writer = threading.Thread(target=other_connection_writes)
        writer.start()
        writer.join(timeout=60)
        return parse(raw, limits)

    monkeypatch.setattr(process_module, "parse", parse_and_watch)
    outcome = process(stored.message.pk)
    assert outcome.state == State.CREATED
    assert seen == {"in_transaction": False, "wrote": True}
    agent.refresh_from_db()
    assert agent.last_login is not None


@pytest.mark.django_db
def test_a_second_run_during_the_parse_does_not_write_twice(
    mail_setup: None, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of the task for one message (a retry, the sweep): the one that parsed
    second finds, under the row lock, that the message was written meanwhile."""
    stored = store(build("CRITICAL: site down", "Nobody can log in."), source="smtp")
    inner: list[Any] = []

    def parse_while_another_run_finishes(raw: bytes, limits: Any = None) -> Any:
        if not inner:
            inner.append(None)
            inner[0] = process(stored.message.pk)  # the other run, start to end
        return parse(raw, limits)

    monkeypatch.setattr(process_module, "parse", parse_while_another_run_finishes)
    outcome = process(stored.message.pk)
    case = Case.objects.get()
    assert outcome.line == inner[0].line == f"created {case.reference} Critical"
    assert MessageKey.objects.count() == 1
    assert case.events.filter(kind=EventKind.OPENED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_gets_through_a_hostile_mail_and_the_mail_after_it(
    mail_setup: None, alice: Any, run_tasks: Any
) -> None:
    hostile = store(div_soup(75_000), source="smtp", envelope_from="alice@acme.example")
    after = store(build("Invoices", "Where is my invoice?"), source="smtp")
    run_tasks()
    states = dict(InboundMessage.objects.values_list("pk", "state"))
    assert states == {hostile.message.pk: State.CREATED, after.message.pk: State.CREATED}
    assert Case.objects.count() == 2


@pytest.mark.django_db
def test_a_worker_that_cannot_start_a_child_still_opens_the_case(
    deliver: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process table is full (EAGAIN): the headers and first text still page."""

    def no_more_processes() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    outcome = deliver(build("CRITICAL: checkout down", "Nobody can pay.", html="<p>x</p>" * 20_000))
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Critical"
    assert case.description == "Nobody can pay."
    assert "reading it failed: [Errno 11]" in InboundMessage.objects.get().notice
