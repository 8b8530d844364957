"""The on-call desk and the acknowledgement link, in a real browser (desktop and phone).

A critical case opened on a weeknight pages Sam (primary). On his phone Sam opens
the link from the SMS, sees the case and a button, and acknowledges. On the desk the
page shows as acknowledged, the case's 2-hour clock still runs, the two-week
calendar shows the rota and the report draws its chart.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from casedesk.oncall import services
from casedesk.oncall.defaults import ensure_oncall
from casedesk.oncall.demo import ensure_demo_oncall
from casedesk.oncall.models import Notification, Page, PageStatus, Schedule
from conftest import PASSWORD
from e2e.steps import log_in, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]

CT = ZoneInfo("America/Chicago")
WEDNESDAY_NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)


def test_an_engineer_acknowledges_from_the_phone_and_the_desk_shows_the_clock(
    browser: Any,
    live_server: Any,
    alice: Any,
    agent: Any,
    admin: Any,
    open_case: Any,
    run_tasks: Any,
    screenshot_dir: Path,
    settings: Any,
) -> None:
    base = live_server.url
    settings.BASE_URL = base
    ensure_oncall()
    ensure_demo_oncall()  # Sam primary, Avery the fallback (555 numbers)
    with time_machine.travel(WEDNESDAY_NIGHT, tick=True):
        case = open_case(alice, "Critical", subject="Nobody can log in")
        run_tasks()  # the console notifier "sends" the SMS
        page_row = Page.objects.get()
        sms = Notification.objects.get(page=page_row, person=agent, channel="sms")

        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            timezone_id="America/Chicago",
        )
        tab = phone.new_page()
        tab.set_default_timeout(10_000)
        tab.goto(services.ack_url(sms))
        expect(tab.get_by_role("button", name=f"Acknowledge page {page_row.code}")).to_be_visible()
        expect(tab.get_by_text("Nobody can log in")).to_be_visible()
        tab.screenshot(path=str(screenshot_dir / "oncall-ack-phone.png"), full_page=True)
        page_row.refresh_from_db()
        assert page_row.status == PageStatus.OPEN  # looking changed nothing
        submit(tab)
        expect(tab.get_by_text("You acknowledged page")).to_be_visible()
        page_row.refresh_from_db()
        assert (page_row.acknowledged_by, page_row.acknowledged_via) == (agent, "link")
        phone.close()

        desk = browser.new_context(
            viewport={"width": 1280, "height": 900}, timezone_id="America/Chicago"
        )
        board = desk.new_page()
        board.set_default_timeout(10_000)
        log_in(board, base, agent.email, PASSWORD)
        board.goto(f"{base}/desk/oncall/")
        pages = board.get_by_test_id("pages")
        expect(pages).to_contain_text(page_row.code)
        expect(pages).to_contain_text("acknowledged by Sam Agent")
        clocks = board.get_by_test_id("clocks")
        expect(clocks).to_contain_text(case.reference)
        expect(clocks.locator(".countdown")).not_to_be_empty()  # desk.js ticks it
        board.screenshot(path=str(screenshot_dir / "oncall-board-desktop.png"), full_page=True)

        board.goto(f"{base}/desk/cases/{case.reference}/")
        timeline = board.locator('[data-kind="page_acknowledged"]')
        expect(timeline).to_contain_text("acknowledged by Sam Agent (the link in a page)")
        expect(board.locator('[data-kind="page_notification"]').first).to_contain_text(
            "SMS to Sam Agent"
        )
        board.screenshot(path=str(screenshot_dir / "oncall-case-timeline.png"), full_page=True)

        schedule = Schedule.objects.get(name="Support")
        board.goto(f"{base}/desk/oncall/schedules/{schedule.pk}/")
        expect(board.get_by_test_id("week")).to_have_count(2)
        expect(board.get_by_text("Sam Agent").first).to_be_visible()
        board.screenshot(path=str(screenshot_dir / "oncall-calendar-desktop.png"), full_page=True)

        board.goto(f"{base}/desk/oncall/report/")
        expect(board.locator("svg.chart")).to_be_visible()
        board.screenshot(path=str(screenshot_dir / "oncall-report-desktop.png"), full_page=True)

        board.set_viewport_size({"width": 390, "height": 844})
        board.goto(f"{base}/desk/oncall/")
        board.screenshot(path=str(screenshot_dir / "oncall-board-phone.png"), full_page=True)
        width = board.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the on-call board is {width}px wide on a 390px phone"
        board.goto(f"{base}/desk/oncall/schedules/{schedule.pk}/")
        board.screenshot(path=str(screenshot_dir / "oncall-calendar-phone.png"), full_page=True)
        width = board.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the calendar is {width}px wide on a 390px phone"
        desk.close()
