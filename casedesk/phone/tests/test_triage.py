"""An agent marks a call non-emergency: once, with a reason, and a fee only when fees are on
and the call has an organization. Undoing voids the fee and withdraws the mark."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from casedesk.cases.models import Event, EventKind
from casedesk.phone import fees
from casedesk.phone.models import Call, Fee
from casedesk.phone.tests.fee_helpers import FEE, make_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def fee_on(settings):
    settings.PHONE_FEE = FEE
    settings.PHONE_FEE_CURRENCY = "USD"


@pytest.fixture
def fee_off(settings):
    settings.PHONE_FEE = Decimal("0.00")


def mark_url(call: Call) -> str:
    return f"/desk/phone/calls/{call.pk}/non-emergency/"


def void_url(call: Call) -> str:
    return f"/desk/phone/calls/{call.pk}/void/"


def test_marking_records_the_mark_and_the_fee_against_the_organization(
    fee_on, desk, agent, alice, acme
):
    call = make_call(acme, caller=alice)
    response = desk.post(mark_url(call), {"reason": "Asked how to reset a password."})
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.non_emergency_by == agent
    assert call.non_emergency_reason == "Asked how to reset a password."
    fee = Fee.objects.get(call=call)
    assert (fee.organization, fee.amount, fee.currency, fee.charged_by) == (
        acme,
        Decimal("150.00"),
        "USD",
        agent,
    )
    assert fee.charged_at == call.non_emergency_at
    page = desk.get(response["Location"]).content.decode()
    assert "a fee of 150.00 USD was recorded" in page
    assert "the customer will be told by email" in page


def test_marking_twice_is_refused_and_charges_once(fee_on, desk, agent, alice, acme):
    call = make_call(acme, caller=alice)
    assert desk.post(mark_url(call), {"reason": "Password reset."}).status_code == 302
    again = desk.post(mark_url(call), {"reason": "Second click."})
    assert again.status_code == 400
    assert "Sam Agent already marked this call non-emergency" in again.content.decode()
    assert Fee.objects.count() == 1
    call.refresh_from_db()
    assert call.non_emergency_reason == "Password reset."
    with pytest.raises(fees.TriageError):
        fees.mark_non_emergency(call, agent, "From the service too.")


def test_with_fees_off_the_mark_is_recorded_and_no_fee(fee_off, desk, alice, acme):
    call = make_call(acme, caller=alice)
    response = desk.post(mark_url(call), {"reason": "A question about invoices."})
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.non_emergency_at is not None
    assert not Fee.objects.exists()
    assert "no fee (fees are off)" in desk.get(response["Location"]).content.decode()


def test_a_call_without_an_organization_cannot_be_charged(fee_on, desk):
    call = make_call(None, number="+15555550177", outcome="unidentified")
    response = desk.post(mark_url(call), {"reason": "Wrong number."})
    assert response.status_code == 400
    assert "This call has no organization" in response.content.decode()
    call.refresh_from_db()
    assert call.non_emergency_at is None
    assert not Fee.objects.exists()


def test_with_fees_off_a_call_without_an_organization_is_marked(fee_off, desk):
    call = make_call(None, number="+15555550177", outcome="unidentified")
    assert desk.post(mark_url(call), {"reason": "Wrong number."}).status_code == 302
    call.refresh_from_db()
    assert call.non_emergency_at is not None


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why: the customer reads this reason."),
        ("   \n  ", "Say why: the customer reads this reason."),
        ("x" * 2001, "Ensure this value has at most 2000 characters"),
        ("bad\x00byte", "Null characters are not allowed."),
    ],
)
def test_a_bad_reason_is_refused_with_what_to_fix(fee_on, desk, acme, reason, message):
    call = make_call(acme)
    response = desk.post(mark_url(call), {"reason": reason})
    assert response.status_code == 400
    assert message in response.content.decode()
    call.refresh_from_db()
    assert call.non_emergency_at is None
    assert not Fee.objects.exists()


def test_the_service_refuses_a_bad_reason_and_a_customer_too(fee_on, agent, alice, acme):
    call = make_call(acme)
    with pytest.raises(fees.TriageError, match="Say why"):
        fees.mark_non_emergency(call, agent, " ")
    with pytest.raises(fees.TriageError, match="Only support staff"):
        fees.mark_non_emergency(call, alice, "I say so")
    assert not Fee.objects.exists()


def test_an_unknown_call_is_404_and_get_is_not_allowed(fee_on, desk, acme):
    assert desk.post("/desk/phone/calls/999999/non-emergency/", {"reason": "x"}).status_code == 404
    call = make_call(acme)
    assert desk.get(mark_url(call)).status_code == 405
    assert desk.get(void_url(call)).status_code == 405


def test_the_case_timeline_gets_an_internal_note_with_the_reason(
    fee_on, desk, alice, acme, open_case
):
    case = open_case(alice, "Critical", subject="Phone: login question")
    call = make_call(acme, caller=alice, case=case)
    desk.post(mark_url(call), {"reason": "A login question, not an outage."})
    note = Event.objects.get(case=case, kind=EventKind.NOTE)
    assert not note.public
    assert "marked non-emergency by Sam Agent" in note.body
    assert "Reason: A login question, not an outage." in note.body
    assert "Fee: 150.00 USD." in note.body
    # The customer's portal page does not show it.
    portal = Client()
    portal.force_login(alice)
    page = portal.get(f"/portal/cases/{case.reference}/").content.decode()
    assert "A login question, not an outage." not in page


def test_voiding_keeps_the_fee_voided_withdraws_the_mark_and_a_call_is_charged_once(
    fee_on, desk, agent, alice, acme, open_case
):
    case = open_case(alice, "Critical")
    call = make_call(acme, caller=alice, case=case)
    desk.post(mark_url(call), {"reason": "Password reset."})
    refused = desk.post(void_url(call), {"reason": ""})
    assert refused.status_code == 400
    assert Fee.objects.get().voided_at is None
    response = desk.post(void_url(call), {"reason": "The customer's site was in fact down."})
    assert response.status_code == 302
    fee = Fee.objects.get()
    assert fee.voided_by == agent
    assert fee.void_reason == "The customer's site was in fact down."
    call.refresh_from_db()
    assert call.non_emergency_at is None
    assert call.non_emergency_reason == ""
    assert fees.totals(Fee.objects.all()) == []
    notes = list(Event.objects.filter(case=case, kind=EventKind.NOTE).order_by("pk"))
    assert "Fee of 150.00 USD voided by Sam Agent" in notes[-1].body
    assert not notes[-1].public
    again = desk.post(mark_url(call), {"reason": "Changed my mind again."})
    assert again.status_code == 400
    assert "a call is charged at most once" in again.content.decode()
    assert Fee.objects.count() == 1
    twice = desk.post(void_url(call), {"reason": "Again."})
    assert twice.status_code == 400
    assert "not marked non-emergency" in twice.content.decode()


def test_with_fees_off_undo_withdraws_the_mark(fee_off, desk, acme):
    call = make_call(acme)
    desk.post(mark_url(call), {"reason": "Billing question."})
    assert desk.post(void_url(call), {"reason": "Misjudged."}).status_code == 302
    call.refresh_from_db()
    assert call.non_emergency_at is None
    assert not Fee.objects.exists()


def test_the_form_needs_its_csrf_token(fee_on, agent, acme):
    call = make_call(acme)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    assert browser.post(mark_url(call), {"reason": "No token."}).status_code == 403
    assert browser.post(void_url(call), {"reason": "No token."}).status_code == 403
    call.refresh_from_db()
    assert call.non_emergency_at is None
    page = browser.get(f"/desk/phone/calls/{call.pk}/")
    token = page.context["csrf_token"]
    done = browser.post(mark_url(call), {"reason": "With a token.", "csrfmiddlewaretoken": token})
    assert done.status_code == 302
    assert Fee.objects.filter(call=call).exists()


def test_customers_cannot_triage(fee_on, alice, bob, acme):
    call = make_call(acme, caller=alice)
    for person in (alice, bob):
        browser = Client()
        browser.force_login(person)
        assert browser.post(mark_url(call), {"reason": "Mine."}).status_code == 404
        assert browser.post(void_url(call), {"reason": "Mine."}).status_code == 404
    anonymous = Client().post(mark_url(call), {"reason": "Anyone."})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    call.refresh_from_db()
    assert call.non_emergency_at is None
    assert not Fee.objects.exists()
