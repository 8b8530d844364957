"""The customer hears about a non-emergency mark and its fee by email: the identified caller,
else (nobody identified) their organization's customers, each about their own
organization's call only; one mail per person, retried alone; a withdrawal told to whoever
was told of the mark."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail as django_mail
from django.utils import timezone

from casedesk.accounts.models import Organization, User
from casedesk.phone import fees
from casedesk.phone.models import Fee
from casedesk.phone.tests.fee_helpers import FEE, make_call

pytestmark = pytest.mark.usefixtures("calendars")


@pytest.fixture
def fee_on(settings):
    settings.PHONE_FEE = FEE
    settings.PHONE_FEE_CURRENCY = "USD"
    settings.BASE_URL = "https://desk.example.com"


def test_the_identified_caller_is_told_the_reason_and_the_fee(
    fee_on, agent, alice, acme, open_case, run_tasks, mailoutbox
):
    case = open_case(alice, "Critical", subject="Phone call")
    run_tasks()
    mailoutbox.clear()
    call = make_call(acme, caller=alice, case=case)
    fees.mark_non_emergency(call, agent, "Asked how to export a report & print it.")
    run_tasks()
    (mail,) = mailoutbox
    assert mail.to == ["alice@acme.example"]
    assert mail.subject == (
        f"Your call to the emergency line [{case.reference}] was not an emergency"
    )
    assert "Reason: Asked how to export a report & print it." in mail.body  # not &amp;
    assert "150.00 USD has been recorded against Acme (account 10042001)" in mail.body
    assert "+15555550101" in mail.body
    html = mail.alternatives[0][0]
    assert "report &amp; print it" in html
    assert mail.extra_headers["Message-ID"].startswith(f"<{case.reference}.")


def test_an_unidentified_caller_means_the_organizations_customers_and_nobody_else(
    fee_on, agent, alice, bob, acme, globex, run_tasks, mailoutbox
):
    carol = User.objects.create_user(
        "carol@acme.example", "x" * 20, role="customer", organization=acme, full_name="Carol"
    )
    User.objects.create_user(
        "gone@acme.example", "x" * 20, role="customer", organization=acme, is_active=False
    )
    call = make_call(acme)  # the number is Acme's; nobody said who they were
    fees.mark_non_emergency(call, agent, "Feature request.")
    run_tasks()
    assert sorted(m.to[0] for m in mailoutbox) == [alice.email, carol.email]
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mailoutbox)
    assert not any(bob.email in m.to for m in mailoutbox)
    assert all("Globex" not in m.body for m in mailoutbox)


def test_a_caller_of_another_organization_is_never_mailed_about_it(
    fee_on, agent, alice, bob, acme, run_tasks, mailoutbox
):
    """A call charged to Acme whose caller record points at Bob of Globex (a data mix-up)
    tells Acme's people, not Bob."""
    call = make_call(acme, caller=bob)
    assert fees.recipients(call) == [alice]
    fees.mark_non_emergency(call, agent, "Not an emergency.")
    run_tasks()
    assert [m.to for m in mailoutbox] == [[alice.email]]


def test_each_customer_hears_only_of_their_own_call(
    fee_on, agent, alice, bob, acme, globex, run_tasks, mailoutbox
):
    acme_call = make_call(acme, caller=alice)
    globex_call = make_call(globex, caller=bob, number="+15555550102")
    fees.mark_non_emergency(acme_call, agent, "Acme asked about invoices.")
    fees.mark_non_emergency(globex_call, agent, "Globex asked about colours.")
    run_tasks()
    by_person = {m.to[0]: m.body for m in mailoutbox}
    assert "Acme asked about invoices." in by_person[alice.email]
    assert "Globex" not in by_person[alice.email]
    assert "+15555550102" not in by_person[alice.email]
    assert "Globex asked about colours." in by_person[bob.email]
    assert "Acme" not in by_person[bob.email]


def test_voiding_tells_the_customer_the_fee_is_withdrawn(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "Password reset.")
    run_tasks()
    mailoutbox.clear()
    fees.void_fee(call, agent, "The site really was down.")
    run_tasks()
    (mail,) = mailoutbox
    assert mail.subject == "The fee for your call to the emergency line was withdrawn"
    assert "The fee of 150.00 USD" in mail.body
    assert "Reason: The site really was down." in mail.body


def test_a_mark_voided_before_its_mail_went_out_says_nothing_at_all(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    """The customer never heard of the fee, so they are not told it was withdrawn."""
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "Password reset.")
    fees.void_fee(call, agent, "Misclick.")
    run_tasks()
    assert [m.subject for m in mailoutbox] == []
    assert Fee.objects.get(call=call).told_at is None


def test_with_fees_off_the_mail_mentions_no_fee(
    settings, agent, alice, acme, run_tasks, mailoutbox
):
    settings.PHONE_FEE = Decimal("0.00")
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "A question.")
    run_tasks()
    (mail,) = mailoutbox
    assert "fee" not in mail.body.lower()


def _customer(email: str, organization: Organization, **fields) -> User:
    return User.objects.create_user(
        email, "x" * 20, role="customer", organization=organization, **fields
    )


def test_a_retried_mail_goes_only_to_the_one_it_failed_for(
    fee_on, agent, alice, acme, monkeypatch, run_tasks, mailoutbox
):
    """The mail server drops the connection on Carol's mail: her mail is retried (30 s
    later, by the worker); Alice, already mailed, does not get it twice."""
    _customer("carol@acme.example", acme, full_name="Carol")
    call = make_call(acme)  # unidentified caller: every active Acme customer is told
    fees.mark_non_emergency(call, agent, "Asked for a password reset.")
    real_send = django_mail.EmailMultiAlternatives.send
    failed: list[str] = []

    def flaky(self, *args, **kwargs):
        if self.to == ["carol@acme.example"] and not failed:
            failed.append(self.to[0])
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(django_mail.EmailMultiAlternatives, "send", flaky)
    run_tasks()
    assert failed == ["carol@acme.example"]
    assert [m.to[0] for m in mailoutbox] == ["alice@acme.example"]
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        run_tasks()  # the retry is due
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@acme.example", "carol@acme.example"]


def test_mail_to_the_organization_says_a_call_from_your_organization(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    _customer("carol@acme.example", acme, full_name="Carol")
    call = make_call(acme)
    fees.mark_non_emergency(call, agent, "Feature request.")
    run_tasks()
    assert len(mailoutbox) == 2
    for sent in mailoutbox:
        assert (
            sent.subject
            == "A call from your organization to the emergency line was not an emergency"
        )
        assert "A call from your organization, Acme, to the emergency line" in sent.body
        assert "Your call" not in sent.body


def test_a_deactivated_caller_means_nobody_is_mailed_not_their_colleagues(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    """Alice called and was identified, then left Acme (deactivated): her colleagues did
    not make the call, so nobody is told; the agent sees that before marking."""
    _customer("carol@acme.example", acme, full_name="Carol")
    call = make_call(acme, caller=alice)
    alice.is_active = False
    alice.save()
    assert fees.recipients(call) == []
    done = fees.mark_non_emergency(call, agent, "Alice asked about invoices.")
    assert done.told == 0
    run_tasks()
    assert mailoutbox == []


def test_a_caller_deactivated_after_the_mark_is_not_mailed_by_the_queued_task(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    _customer("carol@acme.example", acme, full_name="Carol")
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "Alice asked about invoices.")
    alice.is_active = False
    alice.save()
    run_tasks()
    assert mailoutbox == []


def test_with_fees_off_withdrawing_a_mark_tells_the_customer_who_was_told_of_it(
    settings, agent, alice, acme, run_tasks, mailoutbox
):
    settings.PHONE_FEE = Decimal("0.00")
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "A how-to question.")
    run_tasks()
    assert len(mailoutbox) == 1
    fees.void_fee(call, agent, "It was a real outage after all.")
    run_tasks()
    assert len(mailoutbox) == 2
    withdrawn = mailoutbox[1]
    assert withdrawn.to == [alice.email]
    assert withdrawn.subject == (
        "Your call to the emergency line is no longer marked as not an emergency"
    )
    assert "Reason: It was a real outage after all." in withdrawn.body
    assert "fee" not in withdrawn.body.lower()


def test_the_fee_records_when_its_customer_was_told(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "Password reset.")
    assert Fee.objects.get(call=call).told_at is None
    run_tasks()
    assert Fee.objects.get(call=call).told_at is not None
