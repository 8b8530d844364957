"""The monthly fee report: calendar months in the support calendar's zone (the last evening
of a month and a clock change), credits in the month a fee is voided, a CSV the billing
team can open safely (in Excel too), a chart per currency, and clear answers to garbage
month parameters (the parser itself: casedesk/lib/tests/test_months.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from casedesk.accounts.models import Organization
from casedesk.phone.tests.fee_helpers import make_call, make_fee

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("calendars")]

CT = ZoneInfo("America/Chicago")


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    # utf-8-sig: the body starts with a byte-order mark (Excel's cue that it is UTF-8).
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_a_fee_at_2330_on_the_last_evening_belongs_to_that_month(desk, agent, acme):
    # 23:30 CST on 30 November is 05:30 UTC on 1 December.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=CT)
    assert late.astimezone(UTC).day == 1
    make_fee(make_call(acme, started_at=late), agent, late)
    november = csv_rows(desk.get("/desk/phone/fees/?month=2026-11&format=csv"))
    assert [row["date"] for row in november] == ["2026-11-30T23:30:00-06:00"]
    assert csv_rows(desk.get("/desk/phone/fees/?month=2026-12&format=csv")) == []


def test_months_follow_the_clock_change(desk, agent, acme):
    # Daylight saving time ends at 02:00 on 1 November 2026 in Chicago.
    october_night = datetime(2026, 10, 31, 23, 30, tzinfo=CT)  # CDT, 04:30 UTC on 1 Nov
    november_night = datetime(2026, 11, 1, 0, 30, tzinfo=CT)  # CDT, 05:30 UTC on 1 Nov
    after_change = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=CT)  # the second 01:30, CST
    for at in (october_night, november_night, after_change):
        make_fee(make_call(acme, started_at=at), agent, at)
    october = csv_rows(desk.get("/desk/phone/fees/?month=2026-10&format=csv"))
    november = csv_rows(desk.get("/desk/phone/fees/?month=2026-11&format=csv"))
    assert [row["date"] for row in october] == ["2026-10-31T23:30:00-05:00"]
    assert [row["date"] for row in november] == [
        "2026-11-01T00:30:00-05:00",
        "2026-11-01T01:30:00-06:00",
    ]


def test_the_csv_has_one_row_per_fee_with_every_column(desk, agent, acme, globex):
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, started_at=at), agent, at)
    voided = make_fee(
        make_call(globex, number="+15555550102", started_at=at),
        agent,
        at.replace(hour=16),
        amount=Decimal("75.50"),
        voided_at=at.replace(hour=17),
        voided_by=agent,
        void_reason="Outage after all",
    )
    response = desk.get("/desk/phone/fees/?month=2026-11&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="fees-2026-11.csv"'
    rows = csv_rows(response)
    assert len(rows) == 2
    first, second = rows
    assert first == {
        "date": "2026-11-10T15:00:00-06:00",
        "organization": "Acme",
        "account_number": "10042001",
        "call": first["call"],
        "caller_number": "'+15555550101",  # a leading + would start a formula
        "amount": "150.00",
        "currency": "USD",
        "reason": "Password reset",
        "charged_by": "Sam Agent",
        "voided": "",
        "void_reason": "",
        "entry": "charge",
        "charged_at": "2026-11-10T15:00:00-06:00",
    }
    assert first["call"].startswith("CA")
    assert second["organization"] == "Globex"
    assert second["voided"] == "2026-11-10T17:00:00-06:00"
    assert second["void_reason"] == "Outage after all"
    assert voided.call.sid == second["call"]


def test_csv_cells_never_start_a_formula(desk, agent, acme):
    evil = Organization.objects.create(name='=HYPERLINK("http://example.com","x")')
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(evil, started_at=at), agent, at, reason="@SUM(1+1)*cmd|' /C calc'!A0")
    make_fee(make_call(acme, started_at=at), agent, at, reason="-2+3")
    rows = csv_rows(desk.get("/desk/phone/fees/?month=2026-11&format=csv"))
    for row in rows:
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), value
    assert rows[0]["organization"] == '\'=HYPERLINK("http://example.com","x")'
    assert {rows[0]["reason"], rows[1]["reason"]} == {"'@SUM(1+1)*cmd|' /C calc'!A0", "'-2+3"}


def test_the_page_totals_the_fees_that_stand_and_charts_them_per_organization(
    desk, agent, acme, globex
):
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, started_at=at), agent, at)
    make_fee(make_call(acme, started_at=at), agent, at, amount=Decimal("50.00"))
    make_fee(make_call(globex, started_at=at), agent, at, amount=Decimal("75.00"))
    make_fee(
        make_call(globex, started_at=at),
        agent,
        at,
        amount=Decimal("999.00"),
        voided_at=at,
        voided_by=agent,
        void_reason="Was an outage",
    )
    response = desk.get("/desk/phone/fees/?month=2026-11")
    assert response.status_code == 200
    report = response.context["report"]
    assert report.totals == [("USD", Decimal("275.00"))]
    assert [(o.name, o.amount, o.count) for o in report.organizations] == [
        ("Acme", Decimal("200.00"), 2),
        ("Globex", Decimal("75.00"), 1),
    ]
    assert report.voided == 1
    (chart,) = response.context["charts"]
    bars = chart.bars
    assert [b.label for b in bars] == ["Acme", "Globex"]
    assert [b.percent for b in bars] == [100.0, 37.5]
    assert bars[0].value == "200.00 USD (2 calls)"
    page = response.content.decode()
    assert page.count('<rect class="bar" width="') == 2
    assert '<rect class="bar" width="37.5" height="1">' in page
    assert "275.00 USD" in page
    assert "1 voided (not counted)" in page


def test_no_month_means_this_month_in_the_calendars_zone(desk, agent, acme):
    response = desk.get("/desk/phone/fees/")
    assert response.status_code == 200
    today = datetime.now(CT)
    assert response.context["month"] == date(today.year, today.month, 1)
    assert "No fees were charged or credited this month." in response.content.decode()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "There is no month 13"),
        ("2026-00", "There is no month 00"),
        ("1999-12", "Choose a year from 2000 to 2100."),
        ("november", "Write the month as YYYY-MM"),
        ("2026-1", "Write the month as YYYY-MM"),
        ("2026-11-01", "Write the month as YYYY-MM"),
        ("2026-11' OR 1=1--", "Write the month as YYYY-MM"),
        ("٢٠٢٦-١١", "Write the month as YYYY-MM"),  # Arabic-Indic digits
        ("<script>", "Write the month as YYYY-MM"),
    ],
)
def test_a_garbage_month_gets_a_400_that_says_what_to_write(desk, month, message):
    for extra in ({}, {"format": "csv"}):
        response = desk.get("/desk/phone/fees/", {"month": month, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert message in response.content.decode()
        assert "<script>" not in response.content.decode()


def test_customers_and_strangers_never_see_the_report(alice, bob, agent, acme):
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, started_at=at), agent, at)
    for person in (alice, bob):
        browser = Client()
        browser.force_login(person)
        for url in (
            "/desk/phone/fees/?month=2026-11",
            "/desk/phone/fees/?month=2026-11&format=csv",
        ):
            response = browser.get(url)
            assert response.status_code == 404
            assert b"10042001" not in response.content
    anonymous = Client().get("/desk/phone/fees/?month=2026-11&format=csv")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_a_change_of_currency_within_a_month_is_never_added_up(desk, agent, acme):
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, started_at=at), agent, at)
    make_fee(make_call(acme, started_at=at), agent, at, amount=Decimal("90.00"), currency="EUR")
    response = desk.get("/desk/phone/fees/?month=2026-11")
    assert response.context["report"].totals == [
        ("EUR", Decimal("90.00")),
        ("USD", Decimal("150.00")),
    ]
    assert [(c.currency, [b.label for b in c.bars]) for c in response.context["charts"]] == [
        ("EUR", ["Acme"]),
        ("USD", ["Acme"]),
    ]


def test_amounts_in_different_currencies_are_charted_apart_each_against_its_own_largest(
    desk, agent, acme, globex
):
    """150 USD and 10,000 JPY are never drawn on one scale: each currency has its chart,
    whose largest total fills the track."""
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(acme, started_at=at), agent, at, amount=Decimal("150.00"))
    make_fee(make_call(acme, started_at=at), agent, at, amount=Decimal("50.00"), currency="JPY")
    make_fee(
        make_call(globex, number="+15555550102", started_at=at),
        agent,
        at,
        amount=Decimal("10000.00"),
        currency="JPY",
    )
    response = desk.get("/desk/phone/fees/?month=2026-11")
    charts = {c.currency: {b.label: b.percent for b in c.bars} for c in response.context["charts"]}
    assert charts == {"JPY": {"Globex": 100.0, "Acme": 1.0}, "USD": {"Acme": 100.0}}
    page = response.content.decode()
    assert page.count('data-testid="chart"') == 2
    assert "In JPY" in page and "In USD" in page


def test_the_fee_csv_starts_with_a_byte_order_mark_so_excel_reads_it_as_utf8(desk, agent):
    zurich = Organization.objects.create(name="Zürich Café")
    at = datetime(2026, 11, 10, 15, 0, tzinfo=CT)
    make_fee(make_call(zurich, started_at=at), agent, at, reason="Frage zur Lizenz – dringend?")
    response = desk.get("/desk/phone/fees/?month=2026-11&format=csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    (row,) = csv_rows(response)
    assert row["organization"] == "Zürich Café"
    assert row["reason"] == "Frage zur Lizenz – dringend?"


def test_a_fee_voided_after_its_month_is_a_credit_in_the_month_it_was_voided(desk, agent, acme):
    """Billing imports November's CSV at the start of December. A November fee voided on
    3 December stays in November's report as it stood (noted), and December's report
    carries a credit line: negative, labelled, in December's totals."""
    november = datetime(2026, 11, 20, 10, 0, tzinfo=CT)
    december = datetime(2026, 12, 10, 10, 0, tzinfo=CT)
    make_fee(
        make_call(acme, started_at=november),
        agent,
        november,
        reason="Password reset",
        voided_at=datetime(2026, 12, 3, 9, 0, tzinfo=CT),
        voided_by=agent,
        void_reason="Real outage",
    )
    make_fee(make_call(acme, started_at=december), agent, december, amount=Decimal("200.00"))

    nov = desk.get("/desk/phone/fees/?month=2026-11")
    assert nov.context["report"].totals == [("USD", Decimal("150.00"))]
    assert "after this month: credited in December 2026" in nov.content.decode()
    (nov_row,) = csv_rows(desk.get("/desk/phone/fees/?month=2026-11&format=csv"))
    assert (nov_row["entry"], nov_row["amount"], nov_row["voided"]) == ("charge", "150.00", "")

    dec = desk.get("/desk/phone/fees/?month=2026-12")
    report = dec.context["report"]
    assert report.totals == [("USD", Decimal("50.00"))]  # 200 charged, 150 credited
    assert (report.charged, report.credits, report.voided) == (1, 1, 0)
    ((acme_total),) = report.organizations
    assert (acme_total.amount, acme_total.count, acme_total.credits) == (Decimal("50.00"), 1, 1)
    page = dec.content.decode()
    assert page.count('data-testid="credit"') == 1
    assert "-150.00 USD" in page
    assert "Credit: the fee charged" in page and "Real outage" in page
    assert "1 credit (fees of earlier months voided this month, subtracted)" in page

    credit, charge = csv_rows(desk.get("/desk/phone/fees/?month=2026-12&format=csv"))
    assert credit == {
        "date": "2026-12-03T09:00:00-06:00",
        "organization": "Acme",
        "account_number": "10042001",
        "call": credit["call"],
        "caller_number": "'+15555550101",
        "amount": "-150.00",  # ours, a number: not escaped as a formula
        "currency": "USD",
        "reason": "Password reset",
        "charged_by": "Sam Agent",
        "voided": "2026-12-03T09:00:00-06:00",
        "void_reason": "Real outage",
        "entry": "credit",
        "charged_at": "2026-11-20T10:00:00-06:00",
    }
    assert (charge["entry"], charge["amount"]) == ("charge", "200.00")
    # January: neither the fee nor its credit again.
    assert csv_rows(desk.get("/desk/phone/fees/?month=2027-01&format=csv")) == []
