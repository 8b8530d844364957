"""Edge cases a review found: each pins down how the pipeline now behaves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as outbox
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from casedesk.cases.models import Case, EventKind
from casedesk.core.mail import thread_message_id
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.parse import THREAD_IDS_KEPT, parse
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db


def test_a_customer_writing_about_failed_delivery_is_not_a_bounce(deliver: Any, alice: Any) -> None:
    raw = build(
        "CRITICAL: mail delivery failed for all our users",
        "Since 02:00 every mail to carol@acme.example bounces with 4.0.0.",
    )
    outcome = deliver(raw)  # over SMTP: no Return-Path header, a real envelope sender
    assert outcome.line.startswith("created ") and outcome.line.endswith(" Critical")


def test_a_huge_references_header_is_cut_to_the_nearest_ids() -> None:
    references = " ".join(f"<r{n}@client.example>" for n in range(70_000))
    parsed = parse(build("Re: x", headers={"References": references}))
    assert len(parsed.thread_ids) == THREAD_IDS_KEPT
    assert parsed.thread_ids[0] == "<r69999@client.example>"


def test_nul_and_8_bit_bytes_in_headers_are_stored_cleaned(deliver: Any, alice: Any) -> None:
    raw = (
        b"From: Alice <alice@acme.example>\r\nTo: support@example.com\r\n"
        b"Subject: caf\xe9 down\r\nMessage-ID: <caf\xe9\x00x@client.example>\r\n"
        b"Date: Sa, 28 M\xe4r 2026\r\n\r\nhelp\r\n"
    )
    outcome = deliver(raw)
    message = InboundMessage.objects.get()
    assert outcome.state == State.CREATED
    assert "\x00" not in message.message_id and message.subject == "café down"


def test_the_desk_shows_a_message_with_8_bit_headers(deliver: Any, alice: Any, agent: Any) -> None:
    deliver(b"From: alice@acme.example\r\nTo: s\xe4les@example.com\r\nDate: M\xe4r\r\n\r\nx\r\n")
    client = Client()
    client.force_login(agent)
    page = client.get(reverse("mail:message", args=[InboundMessage.objects.get().pk]))
    assert page.status_code == 200


def test_alerts_that_reuse_one_message_id_are_each_a_case(deliver: Any, alice: Any) -> None:
    first = deliver(build("CRITICAL: disk full", message_id="<alert@monitor.example>"))
    second = deliver(build("CRITICAL: web1 down", message_id="<alert@monitor.example>"))
    assert first.state == second.state == State.CREATED
    assert Case.objects.count() == 2


def test_mail_from_a_staff_address_is_held_not_posted_as_support(
    deliver: Any, alice: Any, agent: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    raw = build(
        f"Re: [{case.reference}]", "Log in at http://evil.example/", sender="agent@example.com"
    )
    outcome = deliver(raw, envelope_from="mallory@evil.example")
    assert outcome.state == State.HELD
    assert "support staff address" in outcome.reason
    assert not case.events.filter(kind=EventKind.REPLY).exists()


def test_a_plus_tagged_support_address_is_ours(deliver: Any, db: None) -> None:
    outcome = deliver(build("Loop", sender="Support+acme@example.com"))
    assert outcome.line == "ignored: sent from our own address support+acme@example.com"


def test_a_new_case_keeps_forwarded_text(deliver: Any, alice: Any) -> None:
    body = (
        "Can you look at this error?\n\n---------- Forwarded message ---------\n"
        "From: monitor@acme.example\nDate: today\n\nERROR 42: the disk is on fire\n"
    )
    outcome = deliver(build("Fwd: error", body))
    assert "ERROR 42: the disk is on fire" in outcome.case.description


def test_a_delayed_delivery_report_is_not_called_undeliverable(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    from casedesk.mail.tests.test_pipeline import _delivery_report

    case = open_case(alice, "Medium")
    report = _delivery_report("alice@acme.example", "4.4.7", thread_message_id(case.reference))
    deliver(report.replace(b"Action: failed", b"Action: delayed"), envelope_from="")
    note = case.events.get(kind=EventKind.NOTE, body__contains="4.4.7")
    assert "is delayed" in note.body and "undeliverable" not in note.body


def test_of_several_subject_references_the_senders_own_case_is_taken(
    deliver: Any, alice: Any, bob: Any, open_case: Any
) -> None:
    theirs = open_case(alice, "Medium")
    mine = open_case(bob, "Medium")
    raw = build(f"Re: [{theirs.reference}] and [{mine.reference}]", sender="bob@globex.example")
    outcome = deliver(raw, envelope_from="bob@globex.example")
    assert outcome.line == f"replied {mine.reference}"


def test_a_held_critical_mail_is_announced_to_the_agents(
    deliver: Any, agent: Any, run_tasks: Any
) -> None:
    deliver(
        build("CRITICAL: site down", sender="new@unknown.example"),
        envelope_from="new@unknown.example",
    )
    run_tasks()
    [notice] = outbox.outbox
    assert notice.to == ["agent@example.com"]
    assert notice.subject == "Held: a mail says critical: CRITICAL: site down"
    assert reverse("mail:message", args=[InboundMessage.objects.get().pk]) in notice.body


def test_mail_from_a_deactivated_person_is_held_with_that_reason(deliver: Any, alice: Any) -> None:
    alice.is_active = False
    alice.save()
    outcome = deliver(build("Hello"))
    assert (
        outcome.line
        == "held: alice@acme.example is deactivated: reactivate the person, or dismiss this"
    )


def test_a_chatty_out_of_office_robot_gets_a_few_notes_only(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    ours = thread_message_id(case.reference)
    for n in range(14):
        deliver(
            build(
                "Out of office",
                f"Away {n}",
                headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ours},
            )
        )
    assert case.events.filter(body__startswith="[Auto-reply").count() == 10


def test_a_failed_attempt_is_counted(mail_setup: None, alice: Any, monkeypatch: Any) -> None:
    from casedesk.mail import process as pipeline
    from casedesk.mail.store import store
    from casedesk.mail.tasks import run_processing

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(pipeline, "_new_case", broken)
    stored = store(build("Boom"), source="smtp")
    run_processing(stored.message.pk)
    stored.message.refresh_from_db()
    assert stored.message.attempts == 1 and stored.message.state == State.NEEDS_ATTENTION


def test_the_sweep_leaves_messages_whose_task_still_waits(mail_setup: None, alice: Any) -> None:
    from casedesk.mail.store import store
    from casedesk.mail.tasks import sweep_pending_mail

    queued = store(build("In the queue"), source="smtp").message  # its task is READY
    lost = store(build("Lost task"), source="smtp").message
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(args_kwargs__args=[lost.pk]).delete()
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    assert sweep_pending_mail.call() == 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[queued.pk]).count() == 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[lost.pk]).count() == 1


def test_the_sweep_puts_a_critical_message_back_on_the_critical_queue(
    mail_setup: None, alice: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    from casedesk.mail.store import store
    from casedesk.mail.tasks import sweep_pending_mail

    urgent = store(build("CRITICAL: site down"), source="smtp", client_ip="192.0.2.10").message
    ordinary = store(build("Invoices"), source="smtp", client_ip="192.0.2.10").message
    DBTaskResult.objects.all().delete()  # both lost their tasks
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    assert sweep_pending_mail.call() == 2
    queues = dict(DBTaskResult.objects.values_list("args_kwargs__args__0", "queue_name"))
    assert queues == {urgent.pk: "critical", ordinary.pk: "default"}


def test_the_sweep_enqueues_again_a_message_whose_task_ran_past_its_time_budget(
    mail_setup: None, alice: Any
) -> None:
    """Issue 16: a task left RUNNING by a worker that lived on (a database blip) was
    counted as queued by every sweep, and its message stayed pending for 24 minutes."""
    from django_tasks_db.models import DBTaskResult

    from casedesk.mail.store import store
    from casedesk.mail.tasks import sweep_pending_mail

    stuck = store(build("Held through a blip"), source="smtp").message
    busy = store(build("Being processed now"), source="smtp").message
    for message, started in ((stuck, timedelta(minutes=10)), (busy, timedelta(seconds=5))):
        row = DBTaskResult.objects.get(args_kwargs__args=[message.pk])
        row.claim("a-worker-that-still-beats")
        DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - started)
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    assert sweep_pending_mail.call() == 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[stuck.pk], status="READY").count() == 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[busy.pk]).count() == 1


def test_sla_notices_to_agents_do_not_thread_into_the_case(
    alice: Any, agent: Any, open_case: Any, run_tasks: Any, transactional_db: None
) -> None:
    from casedesk.cases.models import SlaNotice
    from casedesk.cases.tasks import notify_sla

    case = open_case(alice, "Medium")
    notice = SlaNotice.objects.create(
        case=case, target="first_response", stage="warning", due=case.first_response_due
    )
    notify_sla.call(notice.pk)
    [mail] = [m for m in outbox.outbox if "SLA" in m.subject]
    from casedesk.core.mail import reference_of_message_id

    # Its own Message-ID (in the mail domain), never one that names the case.
    assert reference_of_message_id(mail.extra_headers["Message-ID"]) is None
    assert mail.reply_to == []
