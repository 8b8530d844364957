"""From stored bytes to exactly one outcome: new case, reply, bounce, ignored, held, attention."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.core import mail as outbox

from casedesk.cases.models import Case, Channel, EventKind, Status
from casedesk.cases.services import change_status
from casedesk.core.mail import thread_message_id
from casedesk.mail.models import Bounce, InboundMessage, State
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db

SATURDAY_NIGHT = "2026-11-28T08:00:00Z"  # 02:00 in Chicago: support is closed
TUESDAY_MORNING = "2026-12-01T16:00:00Z"  # 10:00 in Chicago: support is open


def test_critical_in_the_subject_opens_a_critical_email_case(deliver: Any, alice: Any) -> None:
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        outcome = deliver(build("CRITICAL: site down", "Nobody can log in."))
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Critical"
    assert case.priority.is_critical and case.channel == Channel.EMAIL
    assert case.requester == alice and case.opened_after_hours and case.after_hours_alarm
    assert case.description == "Nobody can log in."
    notes = case.events.filter(kind=EventKind.NOTE).values_list("body", flat=True)
    assert any("Confirm which of (a), (b), (c)" in note for note in notes)


def test_a_plain_subject_opens_a_case_at_the_default_priority(deliver: Any, alice: Any) -> None:
    outcome = deliver(build("Question about invoices"))
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Medium"
    assert not case.priority.is_critical


def test_the_new_case_gets_an_rfc3834_auto_reply_threaded_to_the_message(
    deliver: Any, alice: Any, run_tasks: Any
) -> None:
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        deliver(build("Invoices", message_id="<q1@client.example>"))
        run_tasks()
    case = Case.objects.get()
    [reply] = outbox.outbox
    assert reply.to == ["alice@acme.example"]
    assert f"[{case.reference}]" in reply.subject
    assert reply.extra_headers["Auto-Submitted"] == "auto-replied"
    assert reply.extra_headers["In-Reply-To"] == "<q1@client.example>"
    assert reply.extra_headers["References"] == "<q1@client.example>"
    assert reply.extra_headers["Message-ID"].startswith(f"<{case.reference}.")
    assert "12 business hours" in reply.body


def test_a_reply_to_our_mail_threads_into_its_case_by_message_id(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    ours = thread_message_id(case.reference)
    outcome = deliver(
        build("Re: something else entirely", "Thanks!\n\n> quoted", headers={"In-Reply-To": ours})
    )
    assert outcome.line == f"replied {case.reference}"
    event = case.events.filter(kind=EventKind.REPLY).get()
    assert event.body == "Thanks!" and event.public and event.author == alice
    assert InboundMessage.objects.get().event == event


def test_a_forged_message_id_does_not_thread(
    deliver: Any, alice: Any, bob: Any, open_case: Any
) -> None:
    theirs = open_case(bob, "Medium")
    forged = thread_message_id(theirs.reference).replace(".", "x", 1)
    outcome = deliver(build("Hello", headers={"In-Reply-To": forged}))
    assert outcome.line.startswith("created ")
    assert not theirs.events.filter(kind=EventKind.REPLY).exists()


def test_the_reference_in_the_subject_threads_when_no_message_id_does(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    outcome = deliver(build(f"Re: [{case.reference}] Medium problem", "More detail"))
    assert outcome.line == f"replied {case.reference}"


def test_the_customers_own_earlier_message_id_threads_a_follow_up(deliver: Any, alice: Any) -> None:
    first = deliver(build("Help", message_id="<first@client.example>"))
    again = deliver(build("Also this", headers={"References": "<first@client.example>"}))
    assert again.line == f"replied {first.case.reference}"


def test_a_subject_reference_to_another_organizations_case_opens_a_new_case(
    deliver: Any, alice: Any, bob: Any, open_case: Any
) -> None:
    theirs = open_case(bob, "Medium")
    outcome = deliver(build(f"[{theirs.reference}] guessing", "Is this yours?"))
    assert outcome.line.startswith("created ")
    assert outcome.case is not None and outcome.case.organization == alice.organization
    assert not theirs.events.filter(kind=EventKind.REPLY).exists()


def test_someone_outside_the_organization_answering_our_mail_is_held(
    deliver: Any, alice: Any, bob: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    raw = build(
        "Re: x",
        sender="bob@globex.example",
        headers={"In-Reply-To": thread_message_id(case.reference)},
    )
    outcome = deliver(raw, envelope_from="bob@globex.example")
    assert outcome.state == State.HELD
    assert (
        outcome.line
        == f"held: bob@globex.example answered {case.reference} but is not in its organization"
    )
    assert not case.events.filter(kind=EventKind.REPLY).exists()


def test_a_reply_reopens_a_resolved_case(
    deliver: Any, alice: Any, agent: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    change_status(case, Status.RESOLVED, agent)
    deliver(build(f"Re: [{case.reference}]", "It broke again"))
    case.refresh_from_db()
    assert case.status == Status.OPEN


def test_a_reply_to_a_closed_case_opens_a_linked_new_case(
    deliver: Any, alice: Any, agent: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    change_status(case, Status.CLOSED, agent)
    outcome = deliver(build(f"Re: [{case.reference}] Medium problem", "Back again"))
    new = outcome.case
    assert new != case and outcome.line == f"created {new.reference} Medium"
    assert new.description.startswith(f"Follow-up to {case.reference}")
    assert case.events.filter(kind=EventKind.NOTE, body__contains=new.reference).exists()


def test_critical_in_a_reply_never_raises_the_case(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Low")
    deliver(build(f"Re: [{case.reference}] now CRITICAL", "Worse"))
    case.refresh_from_db()
    assert case.priority.name == "Low"


def test_the_same_message_id_twice_makes_one_case(deliver: Any, alice: Any) -> None:
    first = deliver(build("Down", message_id="<dup@client.example>"))
    # The same message through another path: other bytes (a Received line), same id.
    second = deliver(
        b"Received: from mx2.example.com\r\n" + build("Down", message_id="<dup@client.example>")
    )
    assert first.state == State.CREATED
    assert second.line.startswith("ignored: a second copy of <dup@client.example>")
    assert Case.objects.count() == 1


def test_the_same_bytes_twice_are_stored_once(mail_setup: None, alice: Any) -> None:
    from casedesk.mail.store import store

    raw = build("Once")
    assert store(raw, source="smtp").new
    again = store(raw, source="imap")
    assert not again.new and InboundMessage.objects.count() == 1


def test_a_known_domain_makes_a_new_contact(deliver: Any, acme: Any) -> None:
    outcome = deliver(
        build("Hi", sender="Carol New <carol@acme.example>"), envelope_from="carol@acme.example"
    )
    requester = outcome.case.requester
    assert requester.email == "carol@acme.example" and requester.full_name == "Carol New"
    assert requester.organization == acme and not requester.has_usable_password()


def test_an_unknown_sender_is_held_until_an_agent_assigns_an_organization(
    deliver: Any, acme: Any, agent: Any
) -> None:
    from casedesk.mail.process import process
    from casedesk.mail.services import assign_sender

    outcome = deliver(
        build("Hi", sender="dana@elsewhere.example"), envelope_from="dana@elsewhere.example"
    )
    assert (
        outcome.line
        == "held: unknown sender dana@elsewhere.example: assign an organization in the desk"
    )
    message = InboundMessage.objects.get()
    assign_sender(message, acme, agent)
    message.refresh_from_db()
    assert message.state == State.CREATED
    assert message.case is not None and message.case.organization == acme
    # The next message from that address goes straight in.
    later = deliver(
        build("Again", sender="dana@elsewhere.example"), envelope_from="dana@elsewhere.example"
    )
    assert later.state == State.CREATED
    assert process(message.pk).state == State.CREATED  # processing again changes nothing


def test_unknown_senders_can_be_ignored_by_configuration(
    deliver: Any, settings: Any, db: None
) -> None:
    settings.MAIL_UNKNOWN_SENDER = "ignore"
    outcome = deliver(
        build("Hi", sender="spam@elsewhere.example"), envelope_from="spam@elsewhere.example"
    )
    assert outcome.line.startswith("ignored: unknown sender spam@elsewhere.example")


def test_mail_from_our_own_address_is_ignored(deliver: Any, db: None) -> None:
    outcome = deliver(
        build("Loop", sender="support@example.com"), envelope_from="support@example.com"
    )
    assert outcome.line == "ignored: sent from our own address support@example.com"


@pytest.mark.parametrize(
    "headers, envelope, reason",
    [
        (
            {"Auto-Submitted": "auto-generated"},
            "alice@acme.example",
            "Auto-Submitted: auto-generated",
        ),
        ({"Precedence": "bulk"}, "alice@acme.example", "Precedence: bulk"),
        ({"List-Id": "<ops.acme.example>"}, "alice@acme.example", "mailing-list mail (List-Id)"),
        ({}, "", "empty return path (a bounce or a notification)"),
        ({}, "noreply@acme.example", "return path noreply@acme.example"),
    ],
)
def test_automated_mail_opens_a_case_but_is_never_critical_nor_answered(
    deliver: Any, alice: Any, run_tasks: Any, headers: dict[str, str], envelope: str, reason: str
) -> None:
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        outcome = deliver(build("CRITICAL: disk full", headers=headers), envelope_from=envelope)
        run_tasks()
    assert outcome.state == State.CREATED and not outcome.case.priority.is_critical
    assert not outcome.case.after_hours_alarm
    assert outcome.reason == f"no auto-reply: {reason}"
    assert outbox.outbox == []


def test_an_out_of_office_reply_is_noted_on_the_case_without_reopening_it(
    deliver: Any, alice: Any, agent: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    change_status(case, Status.PENDING, agent)
    raw = build(
        "Out of office",
        "I am away until Monday.",
        headers={
            "Auto-Submitted": "auto-replied",
            "In-Reply-To": thread_message_id(case.reference),
        },
    )
    outcome = deliver(raw)
    case.refresh_from_db()
    assert outcome.line == f"ignored: an auto-reply to {case.reference} (kept as an internal note)"
    assert case.status == Status.PENDING
    assert case.events.filter(
        kind=EventKind.NOTE, body__startswith="[Auto-reply from alice@acme.example]"
    ).exists()


def test_auto_replies_stop_after_five_an_hour_per_sender(
    deliver: Any, alice: Any, run_tasks: Any
) -> None:
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        outcomes = [deliver(build(f"Question {n}")) for n in range(7)]
        run_tasks()
    assert len(outbox.outbox) == 5
    assert outcomes[5].reason == "no auto-reply: alice@acme.example had 5 this hour"
    assert Case.objects.count() == 7


def test_a_mail_loop_into_one_case_is_held_after_ten_a_minute(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    outcomes = [deliver(build(f"Re: [{case.reference}]", f"Loop {n}")) for n in range(12)]
    assert [o.state for o in outcomes].count(State.REPLIED) == 10
    assert outcomes[10].line.startswith(
        f"held: more than 10 messages from alice@acme.example into {case.reference}"
    )
    assert InboundMessage.objects.filter(state=State.HELD).count() == 2


def test_a_bounce_is_recorded_against_the_contact_and_the_case(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Medium")
    ours = thread_message_id(case.reference)
    report = _delivery_report("alice@acme.example", "5.1.1", ours)
    outcome = deliver(report, envelope_from="")
    assert outcome.line == "bounce alice@acme.example 5.1.1"
    bounce = Bounce.objects.get()
    assert bounce.contact == alice and bounce.case == case and bounce.permanent
    assert case.events.filter(body__contains="address undeliverable: 5.1.1").exists()
    assert Case.objects.count() == 1


def test_html_only_mail_is_sanitised_and_given_a_text_version(deliver: Any, alice: Any) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "alice@acme.example"
    message["To"] = "support@example.com"
    message["Subject"] = "HTML"
    message.set_content(
        '<p>Broken <b>login</b></p><script>alert(1)</script><img src=x onerror="alert(2)">',
        subtype="html",
    )
    outcome = deliver(bytes(message))
    stored = InboundMessage.objects.get()
    assert "<script" not in stored.html and "onerror" not in stored.html
    assert "<b>login</b>" in stored.html
    assert outcome.case.description == "Broken login"


def test_attachments_are_stored_with_the_case_and_refused_types_noted(
    deliver: Any, alice: Any
) -> None:
    raw = build(
        "Logs attached",
        attachments=[
            ("server.log", "text/plain", b"ERROR boom\n"),
            ("tool.exe", "application/octet-stream", b"MZ\x90\x00"),
        ],
    )
    outcome = deliver(raw)
    case = outcome.case
    assert list(case.attachments.values_list("name", flat=True)) == ["server.log"]
    note = case.events.get(kind=EventKind.NOTE, body__startswith="Attachments not stored")
    assert "tool.exe" in note.body


def test_a_message_without_a_sender_needs_attention_and_is_kept(deliver: Any, db: None) -> None:
    outcome = deliver(b"Subject: who am I\r\n\r\nno from header\r\n")
    message = InboundMessage.objects.get()
    assert outcome.line == "needs attention: no readable sender address (From)"
    assert message.state == State.NEEDS_ATTENTION and bytes(message.raw).startswith(b"Subject")


def test_empty_bytes_need_attention(deliver: Any, db: None) -> None:
    outcome = deliver(b"\r\n\r\n")
    assert outcome.line == "needs attention: the message is empty"


def test_a_bug_in_processing_flags_the_message_instead_of_losing_it(
    mail_setup: None, alice: Any, monkeypatch: Any, run_tasks: Any
) -> None:
    from casedesk.mail import process as pipeline
    from casedesk.mail.store import store

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(pipeline, "_new_case", broken)
    store(build("Boom"), source="smtp")
    run_tasks()
    message = InboundMessage.objects.get()
    assert message.state == State.NEEDS_ATTENTION
    assert message.outcome == "needs attention: processing failed: KeyError: 'surprise'"
    assert not Case.objects.exists()


def _delivery_report(address: str, status: str, original_id: str) -> bytes:
    boundary = "REPORT-BOUNDARY"
    return (
        "From: MAILER-DAEMON@mx.acme.example\r\n"
        "To: support@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Message-ID: <bounce-1@mx.acme.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} no such user\r\n"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.com\r\nTo: {address}\r\nMessage-ID: {original_id}\r\n"
        f"Subject: [CD-1001] Support replied\r\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()


def test_the_auto_reply_points_to_an_open_incident(
    deliver: Any, alice: Any, agent: Any, run_tasks: Any
) -> None:
    from casedesk.status import services as status

    incident = status.create_incident(
        status.NewIncident(
            "Checkout errors in the EU",
            "major",
            status.Posting("investigating", "We are looking into it.", notify=False),
        ),
        agent,
    )
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        deliver(build("Cannot pay"))
        run_tasks()
    [reply] = [m for m in outbox.outbox if m.to == ["alice@acme.example"]]
    assert "Checkout errors in the EU" in reply.body
    assert incident.get_absolute_url() in reply.body
