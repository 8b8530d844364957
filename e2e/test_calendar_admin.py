"""An admin closes the desk for a company day in the admin, and the public hours
page shows it at once (the cached clock follows the calendar's version)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from casedesk.core.demo import DEMO_LOGINS, load_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("calendars")]


def open_default_calendar_as_admin(page, live_server):
    """Log in with the demo admin and open the default calendar's change form."""
    load_demo()
    admin = next(login for login in DEMO_LOGINS if login.role == "admin")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/hours/calendar/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", admin.password)
    page.click("button[type=submit]")
    page.get_by_role("link", name="default", exact=True).click()


def test_an_admin_adds_a_company_day_and_the_hours_page_lists_it(page, live_server, screenshot_dir):
    # A weekday next year, so it is listed on /hours/ whatever today is.
    day = dt.date(timezone.now().year + 1, 3, 10)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)

    page.goto(f"{live_server.url}/hours/")
    expect(page.get_by_test_id("open-state")).to_be_visible()  # warms the cached clock
    assert "Inventory day" not in page.content()

    open_default_calendar_as_admin(page, live_server)
    page.get_by_text("Add another Holiday", exact=True).click()
    page.fill("input[name='holidays-0-date']", day.isoformat())
    page.fill("input[name='holidays-0-name']", "Inventory day")
    page.screenshot(path=screenshot_dir / "admin-calendar.png", full_page=True)
    page.click("input[name='_save']")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"{live_server.url}/hours/")
    row = page.locator(f"tr:has(time[datetime='{day.isoformat()}'])")
    expect(row).to_contain_text("Inventory day")


def test_the_admin_refuses_an_interval_that_ends_before_it_starts(page, live_server):
    open_default_calendar_as_admin(page, live_server)
    page.fill("input[name='intervals-0-end']", "06:00")
    page.click("input[name='_save']")
    expect(page.locator(".errorlist").first).to_contain_text(
        "The end must be later than the start."
    )
