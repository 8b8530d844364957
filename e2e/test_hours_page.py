"""The support hours page as a customer sees it, in a real browser."""

from __future__ import annotations

import re

import pytest

from casedesk.hours.services import current_calendar, status

# The live server needs committed data: transactional tests, whose flush the
# `calendars` fixture repairs.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("calendars")]


def test_hours_page_shows_open_state_hours_and_the_time_in_the_viewers_zone(
    browser, live_server, screenshot_dir
):
    context = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()
    before = status(current_calendar()).open
    page.goto(f"{live_server.url}/hours/")

    # The page and the test each ask the clock; at an opening or closing
    # instant they may straddle it, so accept either answer seen around the load.
    shown = page.get_by_test_id("open-state").inner_text()
    after = status(current_calendar()).open
    assert shown in {"Open now" if state else "Closed now" for state in (before, after)}
    assert "Monday – Friday" in page.get_by_test_id("weekly").inner_text()
    # The next change is given in Chicago time by the server and in the
    # viewer's own zone by the browser.
    local = page.locator("[data-local-for]").first.inner_text()
    assert local.startswith("Your time: ")
    assert "Europe/Berlin" in local
    assert re.search(r"\b(CET|CEST|GMT\+1|GMT\+2)\b", local), local
    page.screenshot(path=screenshot_dir / "hours-desktop.png", full_page=True)
    # The browser told the server its zone, for the pages that follow.
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    assert cookies.get("casedesk_tz") == "Europe/Berlin"
    context.close()


def test_a_viewer_in_the_calendars_zone_is_not_told_the_same_time_twice(browser, live_server):
    context = browser.new_context(timezone_id="America/Chicago")
    page = context.new_page()
    page.goto(f"{live_server.url}/hours/")
    assert page.locator("[data-local-for]").first.inner_text() == ""
    context.close()


def test_hours_page_is_readable_on_a_phone(browser, live_server, screenshot_dir):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/hours/")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.get_by_role("heading", name="Support hours").is_visible()
    page.screenshot(path=screenshot_dir / "hours-phone.png", full_page=True)
    context.close()
