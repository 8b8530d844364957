"""The desk's organization pages: account number, after-hours coverage, people and numbers,
open cases, recent calls and fees with this month's total (in the calendar's month);
staff only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from casedesk.accounts.models import OrganizationPhone
from casedesk.phone.tests.fee_helpers import make_call, make_fee

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("calendars")]

CT = ZoneInfo("America/Chicago")
# Early on 1 December in Chicago; still 30 November nowhere near: 06:10 UTC.
DECEMBER_FIRST = datetime(2026, 12, 1, 0, 10, tzinfo=CT)


def test_the_page_shows_who_the_client_is_and_what_their_calls_cost(
    desk, agent, alice, bob, acme, globex, open_case
):
    OrganizationPhone.objects.create(organization=acme, number="+15555550101", label="NOC desk")
    acme.after_hours_coverage = False
    acme.save()
    case = open_case(alice, "High", subject="Reports are slow")
    open_case(bob, "High", subject="Globex secret problem")
    november = datetime(2026, 11, 30, 23, 30, tzinfo=CT)
    december = datetime(2026, 12, 1, 0, 5, tzinfo=CT)
    make_fee(make_call(acme, caller=alice, started_at=november), agent, november)
    make_fee(make_call(acme, started_at=december), agent, december, amount=Decimal("40.00"))
    make_fee(
        make_call(acme, started_at=december),
        agent,
        december,
        amount=Decimal("500.00"),
        voided_at=december,
        voided_by=agent,
        void_reason="Real outage",
    )
    make_fee(make_call(globex, number="+15555550102", started_at=december), agent, december)
    with time_machine.travel(DECEMBER_FIRST, tick=False):
        desk.force_login(agent)
        response = desk.get(f"/desk/organizations/{acme.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "10042001",
        "callers after hours are offered voicemail",
        "acme.example",
        "+15555550101",
        "NOC desk",
        "alice@acme.example",
        case.reference,
        "Reports are slow",
        "Open cases (1)",
        "This month (December 2026)",
        'data-testid="month-total">40.00 USD<',
        "Real outage",
    ):
        assert expected in page, expected
    # Only December's standing fee: November's late-evening fee and the voided one are not in it.
    assert [(t.currency, t.amount) for t in response.context["month_totals"]] == [
        ("USD", Decimal("40.00"))
    ]
    assert len(response.context["fees"]) == 3
    assert len(response.context["calls"]) == 3
    assert "Globex" not in page
    assert "bob@globex.example" not in page
    assert "Globex secret problem" not in page


def test_the_list_shows_every_organization_with_its_fees_this_month(desk, agent, acme, globex):
    december = datetime(2026, 12, 1, 0, 5, tzinfo=CT)
    make_fee(make_call(globex, started_at=december), agent, december, amount=Decimal("75.00"))
    with time_machine.travel(DECEMBER_FIRST, tick=False):
        desk.force_login(agent)
        response = desk.get("/desk/organizations/")
    assert response.status_code == 200
    rows = {org.name: totals for org, totals in response.context["rows"]}
    assert rows["Acme"] == []
    assert [(t.currency, t.amount) for t in rows["Globex"]] == [("USD", Decimal("75.00"))]
    page = response.content.decode()
    assert "10042001" in page
    assert "10042002" in page
    assert "Fees December" in page
    assert "75.00 USD" in page  # cents, on SQLite too (its SUM drops them)


def test_customers_never_reach_the_organization_pages(alice, bob, acme, globex):
    for person in (alice, bob):
        browser = Client()
        browser.force_login(person)
        for url in (
            "/desk/organizations/",
            f"/desk/organizations/{acme.pk}/",
            f"/desk/organizations/{globex.pk}/",
        ):
            response = browser.get(url)
            assert response.status_code == 404, (person, url)
            assert b"10042001" not in response.content
    response = Client().get(f"/desk/organizations/{acme.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_unknown_organization_is_404(desk):
    assert desk.get("/desk/organizations/999999/").status_code == 404
    assert desk.post("/desk/organizations/").status_code == 405


def test_the_list_counts_customers_and_open_cases_each_once(
    desk, agent, alice, acme, globex, open_case
):
    """Two customers and three open cases are 2 and 3 (the counts are separate subqueries,
    not Counts over joins that multiply); staff, inactive-case states and Globex's rows
    do not count."""
    from casedesk.accounts.models import User
    from casedesk.cases import services

    carol = User.objects.create_user(
        "carol@acme.example", "x" * 20, role="customer", organization=acme
    )
    for person in (alice, carol, alice):
        open_case(person, "Medium")
    services.change_status(open_case(alice, "Low"), "resolved", agent)
    response = desk.get("/desk/organizations/")
    counts = {org.name: (org.customers, org.open_cases) for org, _ in response.context["rows"]}
    assert counts["Acme"] == (2, 3)
    assert counts["Globex"][1] == 0
