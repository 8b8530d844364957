"""A critical case on a Saturday, end to end in a real browser (PRODUCT.md, policies 4-8).

Alice at Acme opens a Critical case from the portal on a Saturday morning,
when support is closed: she sees the confirmation with its reference and the
2-hour target. Sam the agent finds it at the top of the desk queue, replies,
and the first-response clock stops.

The live server runs in the test's process, so time-machine moves its clock
too (ticking from the frozen instant, so each step happens a little later).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Page, expect

from casedesk.cases import services
from casedesk.cases.models import Case
from conftest import PASSWORD
from e2e.steps import log_in, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]

CT = ZoneInfo("America/Chicago")
SATURDAY_MORNING = datetime(2026, 11, 28, 9, 30, tzinfo=CT)


def test_a_critical_case_on_saturday_reaches_the_top_of_the_queue_and_a_reply_stops_the_clock(
    browser: Any,
    live_server: Any,
    alice: Any,
    agent: Any,
    open_case: Any,
    screenshot_dir: Path,
) -> None:
    base = live_server.url
    with time_machine.travel(SATURDAY_MORNING - timedelta(days=1), tick=False):
        # Friday's cases wait in the queue with later deadlines.
        open_case(alice, "High", subject="Exports are slow since the upgrade")
        open_case(alice, "Low", subject="How do I rename a project?")

    with time_machine.travel(SATURDAY_MORNING, tick=True):
        # Alice's browser is in Chicago; the page shows times in the viewer's zone.
        customer = browser.new_context(
            viewport={"width": 1280, "height": 900}, timezone_id="America/Chicago"
        )
        page = customer.new_page()
        page.set_default_timeout(10_000)
        log_in(page, base, alice.email, PASSWORD)

        page.goto(f"{base}/portal/new/")
        expect(page.get_by_test_id("after-hours")).to_contain_text("Support is closed now")
        expect(page.get_by_test_id("critical-definition")).to_be_hidden()
        page.fill("input[name=subject]", "Nobody can log in to production")
        page.fill("textarea[name=description]", "Every user gets a 502 since 09:10.")
        page.locator("input[name=priority][data-critical]").check()
        expect(page.get_by_test_id("critical-definition")).to_be_visible()
        page.locator("input[name=characteristics][value=c]").check()
        page.fill("textarea[name=business_impact]", "All 400 staff are locked out.")
        page.screenshot(path=str(screenshot_dir / "portal-new-critical-case.png"), full_page=True)
        submit(page)

        case = Case.objects.get(subject="Nobody can log in to production")
        confirmation = page.get_by_test_id("confirmation")
        expect(page.locator("h1")).to_have_text(f"Case {case.reference} is open")
        expect(confirmation).to_contain_text(case.reference)
        expect(confirmation).to_contain_text("2 hours, around the clock")
        expect(confirmation).to_contain_text("flagged as an after-hours critical case")
        expect(confirmation).to_contain_text("Saturday 28 November, 11:3")  # 2 hours on
        page.screenshot(path=str(screenshot_dir / "portal-critical-confirmation.png"))
        customer.close()

        desk = browser.new_context(
            viewport={"width": 1400, "height": 900}, timezone_id="America/Chicago"
        )
        page = desk.new_page()
        page.set_default_timeout(10_000)
        # The countdowns tick in the browser: give it the server's (travelled) clock.
        page.clock.install(time=datetime.now(tz=CT))
        log_in(page, base, agent.email, PASSWORD)
        page.goto(f"{base}/desk/")
        first_row = page.get_by_test_id("queue").locator("tbody tr").first
        expect(first_row).to_have_attribute("data-reference", case.reference)
        expect(first_row).to_contain_text("Critical")
        expect(first_row).to_contain_text("in 1h 5")  # due 11:30, it is just past 09:30
        page.screenshot(path=str(screenshot_dir / "desk-queue-critical-first.png"))

        first_row.get_by_role("link", name=case.reference).click()
        expect(page.get_by_test_id("critical")).to_contain_text("inaccessible to all users")
        expect(page.get_by_test_id("timeline")).to_contain_text("after hours")
        page.locator("#reply textarea").fill("We see it too and are restarting the gateway.")
        with page.expect_navigation():
            page.locator("#reply button[type=submit]").click()
        expect(page.get_by_test_id("timeline")).to_contain_text("restarting the gateway")
        expect(page.get_by_test_id("sla")).not_to_contain_text("not yet")
        page.screenshot(path=str(screenshot_dir / "desk-case-responded.png"), full_page=True)
        desk.close()

    case.refresh_from_db()
    assert case.first_responded_at is not None
    assert case.first_responded_at < case.first_response_due
    assert not case.first_response_breached
    assert case.next_due == case.resolution_due  # only the resolution clock still runs
    assert services.next_due(case) == case.next_due


def test_the_portal_fits_a_phone_screen(
    browser: Any, live_server: Any, alice: Any, agent: Any, open_case: Any, screenshot_dir: Path
) -> None:
    case = open_case(alice, "High", subject="The nightly export stops halfway")
    services.add_reply(case, agent, "Which export profile do you use?", status="pending")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        timezone_id="America/Chicago",
    )
    page = phone.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server.url, alice.email, PASSWORD)
    for name, path in [
        ("list", "/portal/"),
        ("case", f"/portal/cases/{case.reference}/"),
        ("new", "/portal/new/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        page.screenshot(path=str(screenshot_dir / f"portal-{name}-phone.png"), full_page=True)
        # Nothing wider than the screen: not the page, and no box inside it.
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('body *')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert widest <= 390, f"{path}: something reaches {widest:.0f}px on a 390px screen"
    expect(page.locator("body")).to_contain_text("Critical")
    phone.close()


def test_a_new_case_appears_in_the_open_queue_without_a_reload(
    page: Page, live_server: Any, alice: Any, agent: Any, open_case: Any
) -> None:
    open_case(alice, "Low", subject="Already waiting")
    page.clock.install()
    log_in(page, live_server.url, agent.email, PASSWORD)
    page.goto(f"{live_server.url}/desk/")
    queue = page.get_by_test_id("queue")
    expect(queue.locator("tbody tr")).to_have_count(1)
    arrived = open_case(alice, "High", subject="Arrived while the agent watched")
    page.clock.run_for(31_000)
    row = queue.locator(f"tr[data-reference='{arrived.reference}']")
    expect(row).to_be_visible()
    expect(row).to_have_class(re.compile("arrived"))
    expect(page.get_by_text("2 active cases")).to_be_visible()
