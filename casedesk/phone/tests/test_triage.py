"""An agent marks a call non-emergency: once (two agents at once: one loses cleanly), with a
reason, and a fee only when fees are on and the call has an organization; optionally
lowering the critical case. Undoing voids the fee and withdraws the mark. The page says how
the caller was identified before anyone charges."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client

from casedesk.accounts.models import OrganizationPhone, User
from casedesk.cases.models import Case, Event, EventKind
from casedesk.phone import fees
from casedesk.phone.models import Call, Fee
from casedesk.phone.tests.fee_helpers import ACME_PHONE, FEE, make_call

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


CT = ZoneInfo("America/Chicago")


@pytest.mark.django_db(transaction=True)
def test_two_agents_marking_at_once_one_loses_cleanly_and_one_fee_stands(fee_on, agent, acme):
    """A marks inside a transaction it holds open; B marks meanwhile and waits on A's row
    lock (PostgreSQL) or write lock (SQLite). B gets a TriageError (not an IntegrityError or
    OperationalError), and exactly one fee stands."""
    other = User.objects.create_user("agent2@example.com", "x" * 20, role="agent")
    call = make_call(acme)
    holding, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                fees.mark_non_emergency(call, agent, "first")
                holding.set()
                release.wait(10)
            results["first"] = "ok"
        except Exception as exc:
            results["first"] = exc
            holding.set()
        finally:
            connection.close()

    def second() -> None:
        holding.wait(10)
        try:
            fees.mark_non_emergency(call, other, "second")
            results["second"] = "ok"
        except Exception as exc:
            results["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    holding.wait(10)
    time.sleep(1.0)  # B is now blocked on A's lock
    release.set()
    for t in threads:
        t.join(30)
    assert results["first"] == "ok", results
    assert isinstance(results["second"], fees.TriageError), repr(results["second"])
    assert Fee.objects.filter(call=call).count() == 1
    assert Call.objects.get(pk=call.pk).non_emergency_by_id == agent.pk


def test_the_fee_is_the_configured_amount_summed_in_cents_on_every_database(
    settings, agent, alice, acme, calendars
):
    settings.PHONE_FEE = Decimal("49.95")
    for minute in range(3):
        with time_machine.travel(datetime(2026, 11, 10, 15, minute, tzinfo=CT), tick=False):
            fees.mark_non_emergency(make_call(acme, caller=alice), agent, "How-to")
    now = datetime(2026, 11, 20, tzinfo=CT)
    assert [(t.currency, t.amount) for t in fees.totals(fees.fees_of_month(acme, now, CT))] == [
        ("USD", Decimal("149.85"))
    ]


@pytest.fixture
def critical_call(alice, acme, open_case, run_tasks):
    case = open_case(alice, "Critical", subject="Phone call")
    return make_call(acme, caller=alice, case=case)


def test_marking_can_lower_the_critical_case_to_the_default_priority(
    fee_on, desk, agent, critical_call, priorities
):
    page = desk.get(f"/desk/phone/calls/{critical_call.pk}/").content.decode()
    assert 'name="lower_priority"' in page
    assert 'id="id_lower_priority" checked' in page  # on by default
    response = desk.post(
        mark_url(critical_call), {"reason": "A how-to question.", "lower_priority": "on"}
    )
    assert response.status_code == 302
    case = Case.objects.select_related("priority").get(pk=critical_call.case_id)
    default = next(p for p in priorities.values() if p.is_default)
    assert case.priority == default
    assert not case.after_hours_alarm
    downgrade = Event.objects.get(case=case, kind=EventKind.DOWNGRADE)
    assert downgrade.public
    assert (downgrade.old_value, downgrade.new_value) == ("Critical", default.name)
    assert "A how-to question." in downgrade.reason
    assert f"The case is now {default.name}." in desk.get(response["Location"]).content.decode()


def test_unticked_the_case_stays_critical(fee_on, desk, critical_call):
    response = desk.post(mark_url(critical_call), {"reason": "A how-to question."})
    assert response.status_code == 302
    case = Case.objects.select_related("priority").get(pk=critical_call.case_id)
    assert case.priority.is_critical
    assert not Event.objects.filter(case=case, kind=EventKind.DOWNGRADE).exists()


def test_a_case_that_is_not_critical_is_not_offered_lowering_and_is_left_alone(
    fee_on, desk, agent, alice, acme, open_case
):
    case = open_case(alice, "Medium")
    call = make_call(acme, caller=alice, case=case)
    assert 'name="lower_priority"' not in desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    done = fees.mark_non_emergency(call, agent, "How-to", lower_priority=True)
    assert (done.lowered_to, done.not_lowered) == ("", f"{case.reference} is Medium, not critical")
    assert Case.objects.get(pk=case.pk).priority.name == "Medium"


def test_the_page_says_the_caller_was_identified_by_the_calling_number(desk, alice, acme):
    OrganizationPhone.objects.create(organization=acme, number=ACME_PHONE, label="NOC")
    call = make_call(acme, caller=alice, number=ACME_PHONE)
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert "the calling number: it is one of Acme's numbers" in page


def test_the_page_says_the_caller_keyed_in_the_account_number(fee_on, desk, acme):
    call = make_call(acme, number="+15555550199")  # not one of Acme's numbers
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert "the account number the caller keyed in" in page
    assert "identified only by the account number they keyed in" in page
    unknown = make_call(None, number="anonymous", outcome="unidentified")
    assert "the account number" not in desk.get(f"/desk/phone/calls/{unknown.pk}/").content.decode()


def test_the_page_warns_when_the_identified_caller_can_no_longer_be_mailed(
    fee_on, desk, alice, acme
):
    call = make_call(acme, caller=alice)
    alice.is_active = False
    alice.save()
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert "Nobody is emailed: the caller" in page
