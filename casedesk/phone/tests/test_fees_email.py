"""The customer hears about a non-emergency mark and its fee by email: the identified caller,
else their organization's customers, each about their own organization's call only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from casedesk.accounts.models import User
from casedesk.phone import fees
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


def test_voided_before_the_mail_went_nothing_is_said(
    fee_on, agent, alice, acme, run_tasks, mailoutbox
):
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "Password reset.")
    fees.void_fee(call, agent, "Misclick.")
    run_tasks()
    # The "marked" mail finds the mark gone and stays silent; the void is still told.
    assert [m.subject for m in mailoutbox] == [
        "The fee for your call to the emergency line was withdrawn"
    ]


def test_with_fees_off_the_mail_mentions_no_fee(
    settings, agent, alice, acme, run_tasks, mailoutbox
):
    settings.PHONE_FEE = Decimal("0.00")
    call = make_call(acme, caller=alice)
    fees.mark_non_emergency(call, agent, "A question.")
    run_tasks()
    (mail,) = mailoutbox
    assert "fee" not in mail.body.lower()
