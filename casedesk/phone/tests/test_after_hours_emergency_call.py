"""The whole after-hours story as signed webhooks: greeting, press 1, the case, the whisper,
the engineer accepts, the call ends; the case's response clock stops and the page is
acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk.cases.models import Channel, EventKind
from casedesk.oncall.models import Page, PageStatus
from casedesk.phone.models import Call, CallOutcome, LegOutcome, Stage
from casedesk.phone.tests.conftest import ACME_PHONE, PAT_PHONE, at, case_of, sid

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # Sat 22:00 Central


def test_an_after_hours_call_reaches_pat_who_accepts(caller, line):
    with at(SATURDAY_NIGHT):
        greeting = caller.ring()
        assert "Support is closed and reopens Monday at 7 AM Central" in greeting
        assert "press 1 to reach the on-call engineer" in greeting
        assert "may be subject to a fee" in greeting
        assert (
            '<Gather action="https://desk.example.com/phone/voice/menu"' in greeting
            and 'numDigits="1"' in greeting
        )

        dialing = caller.press("1")
        call = Call.objects.get(sid=caller.sid)
        case = case_of(call)
        assert (call.organization, call.stage) == (line["acme"], Stage.DIALING)
        assert case.priority.is_critical and case.channel == Channel.PHONE
        assert case.requester == line["alice"]  # Acme's contact: the number names no person
        assert ACME_PHONE in case.description
        assert "<Number" in dialing and PAT_PHONE in dialing
        assert (
            'url="https://desk.example.com/phone/voice/whisper"' in dialing
            and 'timeout="25"' in dialing
        )
        assert 'machineDetection="Enable"' in dialing
        page = Page.objects.get(page_cases__case=case)  # opened critical after hours: paged
        assert page.status == PageStatus.OPEN

        leg = sid()
        heard = caller.engineer("/phone/voice/whisper", leg, AnsweredBy="human", To=PAT_PHONE)
        assert f"Critical call from Acme, case {case.reference}" in heard
        assert "Press 1 to accept" in heard
        accepted = caller.engineer("/phone/voice/accept", leg, Digits="1")
        assert "Connecting you now" in accepted and "<Hangup" not in accepted

    with at(datetime(2026, 11, 29, 4, 9, tzinfo=UTC)):
        assert "<Hangup" in caller.dialed("completed", leg, "480")
        caller.status("completed", CallDuration="540", SequenceNumber="3")

    call.refresh_from_db()
    case.refresh_from_db()
    page.refresh_from_db()
    assert (call.outcome, call.answered_by, call.duration_seconds) == (
        CallOutcome.CONNECTED,
        line["pat"],
        540,
    )
    (only,) = call.legs.all()
    assert (only.person, only.outcome, only.sid, only.duration_seconds) == (
        line["pat"],
        LegOutcome.ACCEPTED,
        leg,
        480,
    )
    # The connected call is the first response: the 2-hour clock stops, the page is acked.
    assert case.first_responded_at == call.answered_at
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        PageStatus.ACKNOWLEDGED,
        line["pat"],
        "phone",
    )
    calls = list(case.events.filter(kind=EventKind.CALL).order_by("at", "pk"))
    assert [e.public for e in calls] == [False, True, False]
    assert "took the emergency call" in calls[1].body and calls[1].author == line["pat"]
    assert "ended after 9 min 0 s: connected to an engineer (Pat Primary)" in calls[2].body
    assert "1. Pat Primary (+15555550111): Accepted, 8 min 0 s" in calls[2].body


def test_a_known_customer_calling_is_the_requester(caller, line):
    alice = line["alice"]
    alice.phone = "+15555550131"
    alice.save()
    caller.from_number = alice.phone
    from casedesk.accounts.models import OrganizationPhone

    OrganizationPhone.objects.create(organization=line["acme"], number=alice.phone)
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
    call = Call.objects.get(sid=caller.sid)
    assert call.caller == alice and case_of(call).requester == alice


def test_a_second_call_joins_the_case_of_the_first(caller, line):
    from django.test import Client

    from casedesk.phone.tests.conftest import Caller

    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        again = Caller(Client())
        again.ring()
        again.press("1")
    first, second = Call.objects.get(sid=caller.sid), Call.objects.get(sid=again.sid)
    assert first.case == second.case
    assert (
        case_of(first).events.filter(kind=EventKind.CALL, body__startswith="Another").count() == 1
    )


def test_an_organization_without_active_contacts_still_gets_its_case_and_page(caller, line):
    """Nobody of Initech has an account yet: the case goes to Initech's emergency-line
    contact (made once, deactivated, so it cannot log in and is never mailed), the team is
    paged, and the caller hears so."""
    from casedesk.accounts.models import Organization, OrganizationPhone, Role, User
    from casedesk.phone.tests.conftest import STRANGER

    initech = Organization.objects.create(name="Initech")
    OrganizationPhone.objects.create(organization=initech, number=STRANGER, label="NOC")
    caller.from_number = STRANGER
    with at(SATURDAY_NIGHT):
        caller.ring()
        assert PAT_PHONE in caller.press("1")
        for _ in range(3):
            message = caller.dialed("no-answer", sid())
    assert "The on-call team has been paged" in message
    case = case_of(Call.objects.get(sid=caller.sid))
    assert (case.organization, case.priority.is_critical) == (initech, True)
    contact = case.requester
    assert (contact.organization, contact.role, contact.is_active) == (
        initech,
        Role.CUSTOMER,
        False,
    )
    assert Page.objects.filter(page_cases__case=case).exists()
    # A second call a day later reuses the same contact.
    later = type(caller)(caller.client, from_number=STRANGER)
    with at(datetime(2026, 11, 30, 4, 0, tzinfo=UTC)):
        later.ring()
        later.press("1")
    assert User.objects.filter(organization=initech).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_calls_from_one_organization_open_one_case(line, monkeypatch):
    """Colleagues call about the same outage at the same moment: the organization's row is
    locked before the recent case is looked for, so the second call joins the first one's
    case. (SQLite's IMMEDIATE transactions serialize the two anyway; on PostgreSQL this is
    the lock at work.) The barrier only widens the window between look-up and opening."""
    import contextlib
    import threading

    from django.db import connection
    from django.test import Client

    from casedesk.cases import services as case_services
    from casedesk.cases.models import Case
    from casedesk.phone import flow
    from casedesk.phone.tests.conftest import Caller

    real_open = case_services.open_case
    both_checked = threading.Barrier(2, timeout=5)

    def open_case_when_both_checked(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()
        return real_open(*args, **kwargs)

    monkeypatch.setattr(case_services, "open_case", open_case_when_both_checked)
    callers = [Caller(Client()), Caller(Client())]
    with at(SATURDAY_NIGHT):
        for one in callers:
            one.ring()

        def press_1(one: Caller) -> None:
            try:
                flow.menu(one.sid, "1")
            finally:
                connection.close()

        threads = [threading.Thread(target=press_1, args=(one,)) for one in callers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert Case.objects.filter(organization=line["acme"]).count() == 1
    assert {call.case_id for call in Call.objects.all()} == {
        Case.objects.get(organization=line["acme"]).pk
    }
