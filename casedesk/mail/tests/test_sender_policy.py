"""The pipeline acts on the sender verdict (issue 17): forged mail is suspended, unverified
mail is marked, and neither a forger nor a DNS outage decides who is woken at night.

End to end where it matters: the real SMTP receiver (its peer is 127.0.0.1, which the
domains' SPF records here exclude), the real worker, the real `casedesk mailgate`, and the
local DNS server the tests start (``dns_zone``) holding each domain's SPF, DKIM and DMARC.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail as outbox
from django.urls import reverse

from casedesk.accounts.models import User
from casedesk.cases.models import Case, EventKind
from casedesk.core.mail import thread_message_id
from casedesk.core.tests.embedded import embedded_environ, run_casedesk
from casedesk.mail.models import InboundMessage, SenderCheck, Source, State
from casedesk.mail.process import process
from casedesk.mail.services import assign_sender, release
from casedesk.mail.smtp import Receiver
from casedesk.mail.store import HELO_MAX, client_address, helo_name, store
from casedesk.mail.tests.conftest import build
from casedesk.mail.tests.dnsserver import DkimKey, Zone
from casedesk.mail.tests.test_mailgate import mailgate
from casedesk.oncall.models import Page
from casedesk.oncall.tests.conftest import (  # noqa: F401 - fixtures used below
    PAT_PHONE,
    bodies_to,
    oncall_defaults,
    standin,
    team,
)

SATURDAY_NIGHT = "2026-11-28T08:00:00Z"  # 02:00 in Chicago: support is closed
FORGER_IP = "203.0.113.66"
GLOBEX_SPF = "v=spf1 ip4:198.51.100.25 -all"  # globex's own server; 127.0.0.1 is not it
ACME_SERVER = "198.51.100.10"
ACME_SPF = f"v=spf1 ip4:{ACME_SERVER} -all"


def night() -> time_machine.travel:
    # Ticking: the worker and the DNS resolver's timeouts need time to pass.
    return time_machine.travel(SATURDAY_NIGHT, tick=True)


def smtp_send(
    receiver: Receiver, raw: bytes, *, mail_from: str, helo: str = "mx.sender.example"
) -> tuple[int, bytes]:
    """One message over a fresh SMTP session to the real receiver: the answer to DATA."""
    with smtplib.SMTP(receiver.host, receiver.port, timeout=30) as client:
        client.ehlo(helo)
        client.mail(mail_from)
        client.rcpt("support@example.com")
        return client.data(raw)


@pytest.fixture
def deliver_from(mail_setup: None) -> Callable[..., Any]:
    """Store as the SMTP receiver would, from ``client_ip``, and process now."""

    def run(
        raw: bytes,
        *,
        envelope_from: str = "alice@acme.example",
        client_ip: str = FORGER_IP,
        helo: str = "mx.sender.example",
    ) -> Any:
        stored = store(
            raw,
            source=Source.SMTP,
            envelope_from=envelope_from,
            recipients=["support@example.com"],
            client_ip=client_ip,
            helo=helo,
        )
        return process(stored.message.pk)

    return run


def forged_globex(zone: Zone) -> None:
    zone.publish_spf("globex.example", GLOBEX_SPF)
    zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")


def forged_acme(zone: Zone) -> None:
    zone.publish_spf("acme.example", ACME_SPF)
    zone.publish_dmarc("acme.example", "v=DMARC1; p=reject")


def notes(case: Case) -> list[str]:
    return list(case.events.filter(kind=EventKind.NOTE).values_list("body", flat=True))


# ---- The forged critical ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_forged_critical_after_hours_is_suspended_pages_nobody_and_tells_the_agents(
    receiver: Receiver,
    dns_zone: Zone,
    team: dict[str, Any],  # noqa: F811
    standin: Any,  # noqa: F811
    alice: Any,
    bob: Any,
    agent: Any,
    run_tasks: Any,
) -> None:
    forged_globex(dns_zone)
    raw = build("CRITICAL: site down", "Everything is down.", sender="Bob <bob@globex.example>")
    with night():
        code, _ = smtp_send(receiver, raw, mail_from="bob@globex.example", helo="mx.forger.example")
        run_tasks()
    assert code == 250
    message = InboundMessage.objects.get()
    assert message.state == State.SUSPENDED and message.sender_check == SenderCheck.FAIL
    assert message.client_ip == "127.0.0.1" and message.helo == "mx.forger.example"
    assert "globex.example publishes DMARC p=reject" in message.reason
    assert message.outcome.startswith("suspended: sender not verified")
    assert message.sender_detail == message.reason and message.case is None
    assert not Case.objects.exists() and not Page.objects.exists()
    assert standin.sent() == []
    # Nobody paged, but every agent is mailed: it may be a customer whose SPF broke.
    [notice] = [m for m in outbox.outbox if "critical" in m.subject]
    assert notice.subject == (
        "Suspended (sender not verified): a mail says critical: CRITICAL: site down"
    )
    assert "agent@example.com" in notice.to and "bob@globex.example" not in notice.to
    assert "p=reject" in notice.body and "release it in one click" in notice.body
    assert reverse("mail:message", args=[message.pk]) in notice.body
    assert not [m for m in outbox.outbox if "bob@globex.example" in m.to]  # no auto-reply


@pytest.mark.django_db(transaction=True)
def test_the_suspended_critical_released_by_an_agent_opens_the_case_and_pages(
    receiver: Receiver,
    dns_zone: Zone,
    team: dict[str, Any],  # noqa: F811
    standin: Any,  # noqa: F811
    bob: Any,
    agent: Any,
    run_tasks: Any,
) -> None:
    forged_globex(dns_zone)
    raw = build("CRITICAL: site down", "Everything is down.", sender="Bob <bob@globex.example>")
    with night():
        smtp_send(receiver, raw, mail_from="bob@globex.example")
        run_tasks()
        message = InboundMessage.objects.get()
        assert message.state == State.SUSPENDED
        dns_zone.queries.clear()
        outcome = release(message, agent)
        run_tasks()
    case = Case.objects.get()
    assert outcome.line == f"created {case.reference} Critical"
    assert dns_zone.queries == []  # the agent's click does not wait on DNS
    message.refresh_from_db()
    assert message.state == State.CREATED and message.released_by == agent
    assert message.sender_check == SenderCheck.FAIL  # the verdict it arrived with stays
    assert case.requester == bob and case.priority.is_critical and case.after_hours_alarm
    assert not case.unverified_sender  # the agent vouched
    assert any(
        n.startswith("The mail that opened this case: released by agent@") for n in notes(case)
    )
    page = Page.objects.get()
    assert page.organization == bob.organization
    assert bodies_to(standin, PAT_PHONE)


# ---- Forged replies --------------------------------------------------------------------


@pytest.mark.parametrize("through", ["subject", "in-reply-to"])
@pytest.mark.django_db
def test_a_forged_reply_into_a_case_is_suspended_and_adds_nothing(
    deliver_from: Any, dns_zone: Zone, alice: Any, open_case: Any, through: str
) -> None:
    forged_acme(dns_zone)
    case = open_case(alice, "Medium")
    events = case.events.count()
    if through == "subject":
        raw = build(f"Re: [{case.reference}] Medium problem", "Send the data to evil.example")
    else:
        raw = build(
            "Re: your case",
            "Send the data to evil.example",
            headers={"In-Reply-To": thread_message_id(case.reference)},
        )
    outcome = deliver_from(raw, envelope_from="alice@acme.example")
    assert outcome.state == State.SUSPENDED
    assert "acme.example publishes DMARC p=reject" in outcome.reason
    assert case.events.count() == events
    message = InboundMessage.objects.get()
    assert message.case is None and message.event is None
    assert message.client_ip == FORGER_IP


@pytest.mark.django_db
def test_a_suspended_message_delivered_again_or_processed_again_stays_one_suspended_row(
    deliver_from: Any, dns_zone: Zone, alice: Any
) -> None:
    forged_acme(dns_zone)
    raw = build("Please reset my password", message_id="<forged-1@client.example>")
    first = deliver_from(raw)
    again = deliver_from(raw)  # the sending server's retry: the same bytes
    assert first.state == again.state == State.SUSPENDED
    message = InboundMessage.objects.get()
    assert process(message.pk).state == State.SUSPENDED  # a second run of the task
    # The same message by another path (other bytes, the same Message-ID): a duplicate.
    copy = deliver_from(b"Received: from mx2.example.com\r\n" + raw)
    assert copy.line.startswith("ignored: a second copy of <forged-1@client.example>")
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_a_forged_new_colleague_is_suspended_without_becoming_a_contact(
    deliver_from: Any, dns_zone: Zone, acme: Any
) -> None:
    forged_acme(dns_zone)
    outcome = deliver_from(
        build("Hi", sender="Carol <carol@acme.example>"), envelope_from="carol@acme.example"
    )
    assert outcome.state == State.SUSPENDED
    assert not User.objects.filter(email="carol@acme.example").exists()


# ---- Genuine senders -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_genuine_customer_whose_domain_signs_opens_the_case_and_pages_as_before(
    receiver: Receiver,
    dns_zone: Zone,
    team: dict[str, Any],  # noqa: F811
    standin: Any,  # noqa: F811
    alice: Any,
    run_tasks: Any,
) -> None:
    key = DkimKey()
    forged_acme(dns_zone)  # SPF excludes 127.0.0.1 too: the signature alone vouches
    dns_zone.publish_dkim("acme.example", key.selector, key.public, key.kind)
    with night():  # signed then: a signature dated in the future does not verify
        raw = key.sign(build("CRITICAL: site down", "Nobody can log in."), "acme.example")
        smtp_send(receiver, raw, mail_from="alice@acme.example")
        run_tasks()
    message = InboundMessage.objects.get()
    assert message.state == State.CREATED and message.sender_check == SenderCheck.PASS
    assert message.sender_detail.startswith("sender verified: DKIM passed for acme.example")
    case = Case.objects.get()
    assert case.priority.is_critical and not case.unverified_sender
    assert not [n for n in notes(case) if "not verified" in n.lower()]
    assert Page.objects.get().organization == alice.organization
    assert bodies_to(standin, PAT_PHONE)


@pytest.mark.django_db
def test_a_customer_whose_domain_publishes_nothing_opens_a_case_marked_unverified(
    deliver_from: Any, dns_zone: Zone, alice: Any
) -> None:
    outcome = deliver_from(build("Question about invoices"))
    case = outcome.case
    assert outcome.state == State.CREATED and case.unverified_sender
    assert case.events.get(kind=EventKind.OPENED).unverified_sender
    message = InboundMessage.objects.get()
    assert message.sender_check == SenderCheck.NONE
    [note] = [n for n in notes(case) if "not verified" in n]
    assert note.startswith("Sender not verified: no SPF, DKIM or DMARC verdict for acme.example")
    assert "spf=none" in note and "from DNS" in note

    reply = deliver_from(build(f"Re: [{case.reference}]", "More detail"))
    assert reply.line == f"replied {case.reference}"
    assert reply.event.unverified_sender
    assert any(
        n.startswith("The reply by mail from alice@acme.example: sender not verified")
        for n in notes(case)
    )


@pytest.mark.django_db
def test_a_verified_reply_is_not_marked(deliver_from: Any, dns_zone: Zone, alice: Any) -> None:
    dns_zone.publish_spf("acme.example", ACME_SPF)
    first = deliver_from(build("Help"), client_ip=ACME_SERVER)
    reply = deliver_from(build(f"Re: [{first.case.reference}]", "More"), client_ip=ACME_SERVER)
    assert not first.case.unverified_sender and not reply.event.unverified_sender
    assert InboundMessage.objects.filter(sender_check=SenderCheck.PASS).count() == 2


# ---- The other policies ----------------------------------------------------------------


@pytest.mark.django_db
def test_strict_suspends_mail_with_no_verdict(
    deliver_from: Any, dns_zone: Zone, alice: Any, settings: Any
) -> None:
    settings.MAIL_SENDER_POLICY = "strict"
    outcome = deliver_from(build("Question about invoices"))
    assert outcome.state == State.SUSPENDED
    assert outcome.reason.endswith("(CASEDESK_MAIL_SENDER_POLICY=strict)")
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_strict_lets_a_verified_sender_in(
    deliver_from: Any, dns_zone: Zone, alice: Any, settings: Any
) -> None:
    settings.MAIL_SENDER_POLICY = "strict"
    dns_zone.publish_spf("acme.example", ACME_SPF)
    assert deliver_from(build("Question"), client_ip=ACME_SERVER).state == State.CREATED


@pytest.mark.django_db
def test_off_looks_nothing_up_and_trusts_from(
    deliver_from: Any, dns_zone: Zone, bob: Any, settings: Any
) -> None:
    settings.MAIL_SENDER_POLICY = "off"
    forged_globex(dns_zone)
    outcome = deliver_from(
        build("CRITICAL: site down", sender="bob@globex.example"),
        envelope_from="bob@globex.example",
    )
    assert dns_zone.queries == []
    assert outcome.state == State.CREATED and not outcome.case.unverified_sender
    assert InboundMessage.objects.get().sender_check == ""


@pytest.mark.django_db
def test_an_unknown_sender_assigned_by_an_agent_still_meets_the_policy(
    deliver_from: Any, dns_zone: Zone, acme: Any, agent: Any
) -> None:
    dns_zone.publish_spf("elsewhere.example", "v=spf1 ip4:198.51.100.40 -all")
    dns_zone.publish_dmarc("elsewhere.example", "v=DMARC1; p=quarantine")
    raw = build("Hi", sender="dana@elsewhere.example")
    held = deliver_from(raw, envelope_from="dana@elsewhere.example")
    assert held.state == State.HELD  # unknown sender: what to do with it comes first
    message = InboundMessage.objects.get()
    assert message.sender_check == SenderCheck.FAIL
    # Assigning the address to Acme says who dana is, not that this mail is dana's.
    assert assign_sender(message, acme, agent).state == State.SUSPENDED
    message.refresh_from_db()
    assert release(message, agent).state == State.CREATED


# ---- DNS down --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_dns_down_a_critical_mail_still_opens_and_pages_within_the_budget(
    receiver: Receiver,
    dns_zone: Zone,
    team: dict[str, Any],  # noqa: F811
    standin: Any,  # noqa: F811
    alice: Any,
    run_tasks: Any,
    settings: Any,
) -> None:
    settings.MAIL_VERIFY_SECONDS = 2
    dns_zone.blackhole = True  # reads every question, answers none
    with night():
        smtp_send(receiver, build("CRITICAL: site down"), mail_from="alice@acme.example")
        started = time.perf_counter()
        run_tasks()
        took = time.perf_counter() - started
    message = InboundMessage.objects.get()
    assert message.state == State.CREATED and message.sender_check == SenderCheck.NONE
    assert "temperror" in message.sender_detail
    case = Case.objects.get()
    assert case.priority.is_critical and case.unverified_sender
    assert Page.objects.get().organization == alice.organization
    assert bodies_to(standin, PAT_PHONE)
    assert dns_zone.queries  # it did ask
    # The verification budget bounds the wait (the rest is the worker and paging; a hang
    # would have run into the task's 30 s budget and left no case at all).
    assert took < settings.MAIL_VERIFY_SECONDS + 20


# ---- What SPF needs, and garbage ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_pipe_passes_the_client_ip_and_helo_and_a_forgery_is_suspended(
    mail_setup: None, dns_zone: Zone, bob: Any, tmp_path: Path
) -> None:
    forged_globex(dns_zone)
    result = mailgate(
        build("CRITICAL: site down", sender="bob@globex.example"),
        "--sender",
        "bob@globex.example",
        "--client-ip",
        FORGER_IP,
        "--helo",
        "mx.forger.example",
        "--process",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("suspended: sender not verified: globex.example")
    message = InboundMessage.objects.get()
    assert message.client_ip == FORGER_IP and message.helo == "mx.forger.example"
    assert message.state == State.SUSPENDED and not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_pipe_keeps_a_message_queued_with_exit_75_when_its_client_ip_is_no_address(
    mail_setup: None, tmp_path: Path
) -> None:
    result = mailgate(build("Hello"), "--client-ip", "not-an-ip", tmp_path=tmp_path)
    assert result.returncode == 75  # EX_TEMPFAIL: the mail server keeps it and retries
    error = result.stderr.decode()
    assert "--client-ip 'not-an-ip' is not an IP address" in error and "Traceback" not in error
    assert "keep it queued" in error
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_pipe_takes_an_empty_client_ip_as_unknown(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    # Postfix's ${client_address} of mail submitted on the machine itself is empty.
    result = mailgate(build("Hello"), "--client-ip", "", "--helo", "", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    message = InboundMessage.objects.get()
    assert message.client_ip is None and message.helo == ""


@pytest.mark.django_db(transaction=True)
def test_an_ehlo_name_of_300_characters_is_kept_cut_and_the_mail_processed(
    receiver: Receiver, dns_zone: Zone, alice: Any, run_tasks: Any
) -> None:
    name = "a" * 290 + ".example"
    code, _ = smtp_send(receiver, build("Hello"), mail_from="alice@acme.example", helo=name)
    run_tasks()
    assert code == 250
    message = InboundMessage.objects.get()
    assert message.helo == name[:HELO_MAX] and message.state == State.CREATED


@pytest.mark.no_database
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("IPv6:2001:db8::1", "2001:db8::1"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("fe80::1%eth0", "fe80::1"),
        ("", None),
        ("unknown", None),
        (None, None),
    ],
)
def test_client_addresses_as_mail_servers_write_them(given: str | None, kept: str | None) -> None:
    assert client_address(given) == kept


@pytest.mark.no_database
@pytest.mark.parametrize(
    "garbage",
    ["not-an-ip", "${client_address}", "999.1.1.1", "192.0.2.1/24", "\x00", "1" * 5000, "::g"],
)
def test_client_addresses_that_are_garbage_are_refused(garbage: str) -> None:
    with pytest.raises(ValueError, match="is not an IP address"):
        client_address(garbage)


@pytest.mark.no_database
def test_helo_names_keep_printable_ascii_only_and_255_characters() -> None:
    assert helo_name("  mx.example.com ") == "mx.example.com"
    assert helo_name("mx\x00.exa\tmple\u00e9.com") == "mx?.exa?mple?.com"
    assert len(helo_name("b" * 1000)) == HELO_MAX
    assert helo_name(None) == ""


@pytest.mark.no_database
def test_a_bad_sender_policy_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    environ = embedded_environ(tmp_path, CASEDESK_MAIL_SENDER_POLICY="sometimes")
    result = run_casedesk(environ, "check")
    assert result.returncode == 2, result.stderr
    assert (
        "casedesk: configuration error: CASEDESK_MAIL_SENDER_POLICY: use 'verify', 'strict' or 'off'"
        in result.stderr
    )
