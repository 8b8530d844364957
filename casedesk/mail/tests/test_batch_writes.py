"""What a batch of mail writes for each message (issue 18): the outcomes one message at a
time would have, with what a batch repeats asked once: the calendar's version once a
batch, a sender's rate-limit bucket locked once a transaction, the event that opened a
case not read back, and a stored message not looked for before it is inserted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from casedesk.cases.models import EventKind
from casedesk.hours.services import current_calendar
from casedesk.lib.env import Rate
from casedesk.mail.models import InboundMessage, Source, State
from casedesk.mail.process import process
from casedesk.mail.store import store
from casedesk.mail.tasks import process_batch
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db

CAROL = "Carol Example <carol@acme.example>"  # a new contact of Acme (its domain)
CONFIRM = "casedesk.cases.tasks.send_case_confirmation"


def put(raw: bytes) -> int:
    return store(
        raw, source=Source.SMTP, envelope_from="alice@acme.example", recipients=["s@example.com"]
    ).message.pk


def statements(queries: CaptureQueriesContext, *parts: str) -> int:
    """How many captured statements contain every one of ``parts``."""
    return sum(all(p in q["sql"] for p in parts) for q in queries.captured_queries)


def reasons(pks: list[int]) -> list[str]:
    by_pk = dict(InboundMessage.objects.filter(pk__in=pks).values_list("pk", "reason"))
    return [by_pk[pk] for pk in pks]


def test_a_batch_checks_the_calendars_version_once(mail_setup: None, alice: Any) -> None:
    pks = [put(build(f"Problem {n}")) for n in range(6)]
    current_calendar()  # the worker's clock is built (it is after its first case)
    with CaptureQueriesContext(connection) as queries:
        lines, _ = process_batch(pks, seconds=60)
    assert all(line.startswith("created ") for line in lines.values())
    assert statements(queries, 'FROM "hours_calendar"') == 1


def test_a_senders_messages_in_one_transaction_lock_its_rate_limit_bucket_once(
    mail_setup: None, alice: Any, settings: Any
) -> None:
    settings.RATE_MAIL_AUTO_REPLY = Rate(4, settings.RATE_MAIL_AUTO_REPLY.period)
    pks = [put(build(f"Problem {n}")) for n in range(6)]
    with CaptureQueriesContext(connection) as queries:
        process_batch(pks, seconds=60)
    assert statements(queries, 'INTO "core_ratelimitbucket"') == 1
    assert statements(queries, 'FROM "core_ratelimithit"') == 2  # its old hits; its count
    assert statements(queries, 'INTO "core_ratelimithit"') == 4  # the four it allowed
    assert reasons(pks) == ["", "", "", ""] + ["no auto-reply: alice@acme.example had 4 this hour"] * 2


def test_a_batch_allows_the_auto_replies_one_message_at_a_time_allows(
    mail_setup: None, alice: Any, settings: Any
) -> None:
    settings.RATE_MAIL_AUTO_REPLY = Rate(3, settings.RATE_MAIL_AUTO_REPLY.period)
    batched = [put(build(f"Batched {n}")) for n in range(5)]
    process_batch(batched, seconds=60)
    alone = [put(build(f"Alone {n}", sender=CAROL)) for n in range(5)]
    for pk in alone:
        process(pk)
    said = [r.replace("alice@", "someone@") for r in reasons(batched)]
    assert said == [r.replace("carol@", "someone@") for r in reasons(alone)]
    assert said[3:] == ["no auto-reply: someone@acme.example had 3 this hour"] * 2
    assert DBTaskResult.objects.filter(task_path=CONFIRM).count() == 6


def test_a_message_rolled_back_in_a_batch_gives_its_rate_limit_hit_back(
    mail_setup: None, alice: Any, settings: Any, monkeypatch: Any
) -> None:
    from casedesk.mail import process as pipeline

    real = pipeline._new_case

    def sometimes_broken(message: Any, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        outcome = real(message, parsed, *args, **kwargs)
        if parsed.subject == "Boom":
            raise KeyError("surprise")  # after its auto-reply was counted
        return outcome

    monkeypatch.setattr(pipeline, "_new_case", sometimes_broken)
    settings.RATE_MAIL_AUTO_REPLY = Rate(2, settings.RATE_MAIL_AUTO_REPLY.period)
    pks = [put(build(subject)) for subject in ("First", "Boom", "Third", "Fourth")]
    process_batch(pks, seconds=60)
    assert InboundMessage.objects.get(pk=pks[1]).state == State.NEEDS_ATTENTION
    # The slot "Boom" took went back with it: "Third" has it.
    assert reasons([pks[0], pks[2], pks[3]]) == [
        "",
        "",
        "no auto-reply: alice@acme.example had 2 this hour",
    ]


def test_the_message_points_at_its_cases_opening_without_reading_it_back(
    mail_setup: None, alice: Any
) -> None:
    pks = [put(build(f"Problem {n}")) for n in range(3)]
    with CaptureQueriesContext(connection) as queries:
        process_batch(pks, seconds=60)
    assert statements(queries, "SELECT", 'FROM "cases_event"') == 0
    for message in InboundMessage.objects.filter(pk__in=pks).select_related("event"):
        assert message.event is not None and message.event.kind == EventKind.OPENED
        assert message.event.case_id == message.case_id


def test_storing_a_message_inserts_it_without_looking_for_a_copy_first(
    mail_setup: None,
) -> None:
    raw = build("Printer on fire")
    with CaptureQueriesContext(connection) as queries:
        first = store(raw, source=Source.SMTP, envelope_from="alice@acme.example")
    assert first.new
    assert statements(queries, "SELECT", 'FROM "mail_inboundmessage"') == 0
    again = store(raw, source=Source.IMAP)
    assert not again.new and again.message.pk == first.message.pk
    assert InboundMessage.objects.count() == 1


def test_a_new_case_by_mail_takes_no_savepoint_but_its_messages_and_open_cases(
    mail_setup: None, alice: Any
) -> None:
    pks = [put(build(f"Problem {n}")) for n in range(3)]
    with CaptureQueriesContext(connection) as queries:
        process_batch(pks, seconds=60)
    # The chunk's (a savepoint here: the test runs in a transaction), each message's, and
    # each open_case's; none for the message's key, the case's insert or its rate limit.
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries) == 1 + 3 + 3
    copy = put(build("Problem 0", message_id="<same@client.example>"))
    again = put(build("Problem 0", message_id="<same@client.example>", headers={"X-Path": "2"}))
    process_batch([copy, again], seconds=60)
    assert InboundMessage.objects.get(pk=copy).state == State.CREATED
    assert InboundMessage.objects.get(pk=again).outcome.startswith("ignored: a second copy")
