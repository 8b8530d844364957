"""An agent triages an emergency call in a real browser.

Alice of Acme called the emergency line at night to ask about a password. Sam opens the
desk's call log, opens the call (who was tried, for how long, how the caller was
identified), marks it non-emergency with a reason, lowering the critical case it opened to
the default priority, sees the fee on Acme's organization page with this month's total, and
downloads the month's fee report as CSV. Alice gets the mail about her own call.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from casedesk.accounts.models import OrganizationPhone, User
from casedesk.phone.models import Call, CallOutcome, Fee, LegOutcome
from casedesk.phone.tests.fee_helpers import make_call, make_fee, make_leg
from conftest import PASSWORD
from e2e.steps import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_agent_marks_a_call_non_emergency_and_finds_the_fee(
    browser: Any,
    live_server: Any,
    agent: Any,
    alice: Any,
    acme: Any,
    globex: Any,
    run_tasks: Any,
    mailoutbox: Any,
    open_case: Any,
    settings: Any,
    screenshot_dir: Path,
) -> None:
    settings.PHONE_FEE = Decimal("150.00")
    settings.PHONE_FEE_CURRENCY = "USD"
    settings.BASE_URL = live_server.url
    OrganizationPhone.objects.create(organization=acme, number="+15555550101", label="NOC desk")
    kim = User.objects.create_user(
        "kim@example.com", PASSWORD, role="agent", full_name="Kim Agent", phone="+15555550112"
    )
    started = timezone.now() - timedelta(minutes=40)
    case = open_case(alice, "Critical", subject="Emergency call from Acme")
    call = make_call(
        acme,
        caller=alice,
        case=case,
        started_at=started,
        outcome=CallOutcome.CONNECTED,
        answered_by=kim,
        answered_at=started + timedelta(seconds=50),
        ended_at=started + timedelta(minutes=9),
        duration_seconds=540,
    )
    agent.phone = "+15555550111"
    agent.save(update_fields=["phone"])
    make_leg(
        call, 1, agent, LegOutcome.NO_ANSWER, started + timedelta(seconds=10), duration_seconds=25
    )
    make_leg(
        call,
        2,
        kim,
        LegOutcome.ACCEPTED,
        started + timedelta(seconds=40),
        answered_at=started + timedelta(seconds=50),
        duration_seconds=490,
    )
    make_call(
        globex,
        number="+15555550102",
        outcome=CallOutcome.VOICEMAIL,
        started_at=started - timedelta(hours=3),
    )
    base = live_server.url

    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        timezone_id="America/Chicago",
        accept_downloads=True,
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    log_in(tab, base, agent.email, PASSWORD)

    # The call log, from the navigation.
    tab.goto(f"{base}/desk/")
    tab.get_by_role("link", name="Calls", exact=True).click()
    calls = tab.get_by_test_id("calls")
    expect(calls.locator("tbody tr")).to_have_count(2)
    expect(calls.locator("tbody tr").first).to_contain_text("Acme")
    expect(calls.locator("tbody tr").nth(1)).to_contain_text("Left a voicemail")
    tab.screenshot(path=str(screenshot_dir / "phone-call-log.png"), full_page=True)

    # One call: who was tried, then mark it non-emergency (an empty reason first).
    calls.locator("tbody tr").first.get_by_role("link").first.click()
    expect(tab.get_by_test_id("legs")).to_contain_text("No answer")
    expect(tab.get_by_test_id("legs")).to_contain_text("Kim Agent")
    expect(tab.get_by_test_id("call")).to_contain_text("Alice Example")
    expect(tab.get_by_test_id("call")).to_contain_text("CST")
    expect(tab.get_by_test_id("identified-by")).to_contain_text(
        "the calling number: it is one of Acme's numbers"
    )
    expect(tab.get_by_test_id("lower-priority").get_by_role("checkbox")).to_be_checked()
    tab.screenshot(path=str(screenshot_dir / "phone-call-page.png"), full_page=True)
    tab.locator("#mark textarea").fill("   ")
    tab.evaluate("document.querySelector('#mark textarea').removeAttribute('required')")
    with tab.expect_navigation():
        tab.get_by_role("button", name="Mark non-emergency").click()
    expect(tab.get_by_text("Say why: the customer reads this reason.")).to_be_visible()
    assert not Fee.objects.exists()
    tab.locator("#mark textarea").fill("Asked how to reset a colleague's password; no outage.")
    with tab.expect_navigation():
        tab.get_by_role("button", name="Mark non-emergency").click()
    expect(tab.get_by_role("status")).to_contain_text("a fee of 150.00 USD was recorded")
    expect(tab.get_by_role("status")).to_contain_text("The case is now Medium.")
    case.refresh_from_db()
    assert case.priority.name == "Medium"
    expect(tab.get_by_test_id("fee")).to_contain_text("150.00 USD")
    tab.screenshot(path=str(screenshot_dir / "phone-call-marked.png"), full_page=True)
    fee = Fee.objects.get()
    assert (fee.call, fee.organization, fee.charged_by) == (call, acme, agent)

    # The organization page shows the fee and this month's total.
    tab.get_by_test_id("call").get_by_role("link", name="Acme", exact=True).click()
    expect(tab.get_by_test_id("facts")).to_contain_text("10042001")
    expect(tab.get_by_test_id("facts")).to_contain_text("NOC desk")
    expect(tab.get_by_test_id("month-total")).to_have_text("150.00 USD")
    expect(tab.get_by_test_id("fees")).to_contain_text("Asked how to reset")
    expect(tab.get_by_test_id("people")).to_contain_text("alice@acme.example")
    tab.screenshot(path=str(screenshot_dir / "phone-organization.png"), full_page=True)

    # The monthly report: the chart, then the CSV download.
    tab.get_by_role("link", name="monthly report").click()
    expect(tab.get_by_test_id("chart").locator("li")).to_have_count(1)
    expect(tab.get_by_test_id("totals")).to_contain_text("150.00 USD")
    tab.screenshot(path=str(screenshot_dir / "phone-fee-report.png"), full_page=True)
    with tab.expect_download() as download_info:
        tab.get_by_test_id("csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith("fees-")
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [(r["organization"], r["amount"], r["call"]) for r in rows] == [
        ("Acme", "150.00", call.sid)
    ]

    # A fee of an earlier month voided now is a credit this month; another currency gets
    # a chart of its own.
    earlier = timezone.now() - timedelta(days=62)
    make_fee(
        make_call(acme, started_at=earlier),
        agent,
        earlier,
        amount=Decimal("40.00"),
        voided_at=timezone.now(),
        voided_by=agent,
        void_reason="It was an outage after all",
    )
    now = timezone.now()
    make_fee(
        make_call(globex, number="+15555550102", started_at=now),
        agent,
        now,
        amount=Decimal("9000.00"),
        currency="JPY",
    )
    tab.reload()
    expect(tab.get_by_test_id("chart")).to_have_count(2)
    expect(tab.get_by_test_id("credit")).to_contain_text("-40.00 USD")
    expect(tab.get_by_test_id("totals")).to_contain_text("110.00 USD")
    expect(tab.get_by_test_id("totals")).to_contain_text("9000.00 JPY")
    tab.screenshot(path=str(screenshot_dir / "phone-fee-report-credit.png"), full_page=True)

    # On a phone the pages fit the screen.
    tab.set_viewport_size({"width": 390, "height": 844})
    for url, name in (
        ("/desk/phone/", "phone-call-log-phone.png"),
        (f"/desk/phone/calls/{call.pk}/", "phone-call-page-phone.png"),
        (f"/desk/organizations/{acme.pk}/", "phone-organization-phone.png"),
        ("/desk/phone/fees/", "phone-fee-report-phone.png"),
    ):
        tab.goto(f"{base}{url}")
        tab.screenshot(path=str(screenshot_dir / name), full_page=True)
        assert _fits(tab), f"{url} is wider than a 390px phone"
    context.close()

    run_tasks()
    mail = next(m for m in mailoutbox if "not an emergency" in m.subject)
    assert mail.to == [alice.email]
    assert "Asked how to reset a colleague's password; no outage." in mail.body
    assert Call.objects.get(pk=call.pk).non_emergency_by == agent
