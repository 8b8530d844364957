"""The desk's call log and call page: newest first, filters, who was tried and for how
long, the recording, times in the viewer's zone; staff only."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from casedesk.accounts.models import User
from casedesk.cases import services as case_services
from casedesk.phone import recordings
from casedesk.phone.models import CallOutcome, LegOutcome
from casedesk.phone.tests.fee_helpers import make_call, make_fee, make_leg

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("calendars")]

CT = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")


@pytest.fixture
def engineers(db):
    def person(email, name, phone):
        return User.objects.create_user(email, "x" * 20, role="agent", full_name=name, phone=phone)

    return person("pat@example.com", "Pat Primary", "+15555550111"), person(
        "kim@example.com", "Kim Secondary", "+15555550112"
    )


def test_the_log_lists_calls_newest_first(desk, acme, globex):
    old = make_call(acme, started_at=datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    new = make_call(
        globex, number="+15555550102", started_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    )
    response = desk.get("/desk/phone/")
    assert response.status_code == 200
    assert [c.pk for c in response.context["calls"]] == [new.pk, old.pk]


def test_the_log_filters_by_outcome_organization_month_and_triage(desk, agent, acme, globex):
    voicemail = make_call(
        acme, outcome=CallOutcome.VOICEMAIL, started_at=datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    )
    connected = make_call(acme, started_at=datetime(2026, 10, 20, 3, 0, tzinfo=UTC))
    globex_call = make_call(globex, started_at=datetime(2026, 11, 5, 3, 0, tzinfo=UTC))
    # 23:30 CST on 30 November: a November call in the support calendar's month.
    late = make_call(globex, started_at=datetime(2026, 11, 30, 23, 30, tzinfo=CT))
    late.non_emergency_at = late.started_at
    late.non_emergency_by = agent
    late.save()

    def listed(**query):
        response = desk.get("/desk/phone/", query)
        assert response.status_code == 200
        return {c.pk for c in response.context["calls"]}

    assert listed(outcome="voicemail") == {voicemail.pk}
    assert listed(organization=acme.pk) == {voicemail.pk, connected.pk}
    assert listed(month="2026-11") == {voicemail.pk, globex_call.pk, late.pk}
    assert listed(month="2026-12") == set()
    assert listed(month="2026-11", organization=globex.pk, triage="non_emergency") == {late.pk}
    assert listed(triage="unmarked") == {voicemail.pk, connected.pk, globex_call.pk}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"outcome": "exploded"}, "Select a valid choice"),
        ({"organization": "999999"}, "Select a valid choice"),
        ({"organization": "acme"}, "Select a valid choice"),
        ({"month": "2026-13"}, "There is no month 13"),
        ({"month": "yesterday"}, "Write the month as YYYY-MM"),
        ({"triage": "maybe"}, "Select a valid choice"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_to_fix(desk, acme, query, message):
    make_call(acme)
    response = desk.get("/desk/phone/", query)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Nothing is listed until the filters make sense" in page
    assert response.context["calls"] == []


def test_a_bad_page_number_shows_a_page(desk, acme):
    make_call(acme)
    for number in ("x", "-1", "99999"):
        assert desk.get("/desk/phone/", {"page": number}).status_code == 200


def test_the_call_page_shows_caller_organization_case_legs_and_recording(
    desk, alice, acme, engineers, open_case
):
    pat, kim = engineers
    case = open_case(alice, "Critical", subject="Checkout is down")
    started = datetime(2026, 11, 3, 2, 0, tzinfo=CT)  # 08:00 UTC
    call = make_call(
        acme,
        caller=alice,
        case=case,
        started_at=started,
        outcome=CallOutcome.CONNECTED,
        answered_by=kim,
        answered_at=started + timedelta(seconds=70),
        ended_at=started + timedelta(minutes=12),
        duration_seconds=720,
        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        recording_seconds=95,
    )
    make_leg(
        call,
        1,
        pat,
        LegOutcome.NO_ANSWER,
        started + timedelta(seconds=20),
        ended_at=started + timedelta(seconds=45),
        duration_seconds=25,
    )
    make_leg(
        call,
        2,
        kim,
        LegOutcome.ACCEPTED,
        started + timedelta(seconds=50),
        answered_at=started + timedelta(seconds=70),
        duration_seconds=650,
    )
    desk.cookies["casedesk_tz"] = "America/Chicago"
    response = desk.get(f"/desk/phone/calls/{call.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "Alice Example",
        "alice@acme.example",
        "+15555550101",
        f'href="/desk/organizations/{acme.pk}/"',
        "account 10042001",
        f'href="/desk/cases/{case.reference}/"',
        "Checkout is down",
        "Connected to an engineer",
        "by Kim Secondary",
        "Pat Primary",
        "No answer",
        "25 seconds",
        "Accepted",
        "10 minutes 50 seconds",
        "12 minutes",
        "recorded (95 seconds); being copied from Twilio to the case",
        "Tue Nov 3 2026, 02:00:00 CST",
        "Times in America/Chicago",
    ):
        assert expected in page, expected
    assert page.index("Pat Primary") < page.index("Kim Secondary</td>")
    desk.cookies["casedesk_tz"] = "Europe/Berlin"
    assert (
        "Tue Nov 3 2026, 09:00:00 CET" in desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    )


def test_agents_get_the_voicemail_as_the_case_file_never_twilios_address(
    desk, alice, acme, open_case
):
    case = open_case(alice, "Critical")
    call = make_call(
        acme,
        caller=alice,
        case=case,
        outcome=CallOutcome.VOICEMAIL,
        recording_sid="RE" + "b" * 32,
        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "b" * 32,
        recording_seconds=30,
    )
    case_services.attach(
        case,
        [SimpleUploadedFile(recordings.file_name(call), b"ID3 audio", "audio/mpeg")],
        alice,
    )
    voicemail = case.attachments.get()
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert f'href="/cases/{case.reference}/files/{voicemail.pk}/{voicemail.name}"' in page
    assert "Listen to the voicemail" in page
    assert "api.twilio.com" not in page


def test_a_recording_url_that_is_not_a_web_address_is_not_a_link(desk, acme):
    call = make_call(acme, recording_url="javascript:alert(1)")
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert "javascript:alert" not in page
    assert "Listen to the voicemail" not in page


def test_an_unidentified_call_says_so_and_what_marking_would_do(desk, settings):
    settings.PHONE_FEE = Decimal("150.00")
    call = make_call(None, number="anonymous", outcome=CallOutcome.UNIDENTIFIED)
    page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
    assert "not identified" in page
    assert "this call has none: it cannot be charged" in page
    assert "Nobody is emailed" in page
    assert desk.get("/desk/phone/calls/999999/").status_code == 404


def test_customers_never_reach_the_call_pages(alice, bob, acme):
    call = make_call(acme, caller=alice)
    for person in (alice, bob):
        browser = Client()
        browser.force_login(person)
        for url in ("/desk/phone/", f"/desk/phone/calls/{call.pk}/"):
            response = browser.get(url)
            assert response.status_code == 404, url
            assert b"+15555550101" not in response.content
    for url in ("/desk/phone/", f"/desk/phone/calls/{call.pk}/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_desk_navigation_links_the_call_log(desk, alice):
    assert 'href="/desk/phone/"' in desk.get("/desk/").content.decode()
    customer = Client()
    customer.force_login(alice)
    assert 'href="/desk/phone/"' not in customer.get("/portal/").content.decode()


@pytest.mark.usefixtures("steady_status_version")
def test_the_call_log_organization_pages_and_fee_report_do_not_query_per_row(
    desk, agent, alice, acme
):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert desk.get(url).status_code == 200
        return len(ctx)

    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, caller=alice, started_at=at), agent, at)
    urls = (
        "/desk/phone/",
        f"/desk/organizations/{acme.pk}/",
        "/desk/organizations/",
        "/desk/phone/fees/?month=2026-11",
    )
    for url in urls:  # warm the calendar cache: its queries are not per row
        queries(url)
    few = [queries(url) for url in urls]
    for n in range(15):
        make_fee(make_call(acme, caller=alice, started_at=at), agent, at.replace(minute=n + 1))
    assert [queries(url) for url in urls] == few


@pytest.mark.parametrize(
    "url",
    [
        "/desk/phone/calls/99999999999999999999/",
        "/desk/organizations/99999999999999999999/",
        "/desk/phone/?organization=99999999999999999999",
        "/desk/phone/?month=2026-11%00",
        "/desk/phone/fees/?month=%00",
    ],
)
def test_out_of_range_and_nul_input_is_a_4xx_not_a_500(desk, url):
    assert desk.get(url).status_code in (400, 404)
