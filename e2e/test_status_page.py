"""The public status page with an open incident and maintenance, on a desktop and a phone;
and an agent resolving the incident from the desk, in a real browser."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from casedesk.status import services
from casedesk.status.models import Component, ComponentGroup, Incident
from conftest import PASSWORD
from e2e.steps import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("calendars")]


@pytest.fixture
def status_page_data(agent: Any) -> Incident:
    product = ComponentGroup.objects.create(name="Product", position=1)
    support = ComponentGroup.objects.create(name="Support", position=2)
    web = Component.objects.create(name="Web application", group=product, position=1)
    api = Component.objects.create(name="API", group=product, position=2)
    portal = Component.objects.create(name="Customer portal", group=support, position=1)
    Component.objects.create(name="Email intake", group=support, position=2)
    Component.objects.update(created_at=timezone.now() - timedelta(days=120))
    incident = services.create_incident(
        services.NewIncident(
            name="Errors when saving reports",
            impact="major",
            first=services.Posting(
                "identified",
                "Saving a report fails with **error 500** for some customers. "
                "A fix is being deployed.",
                {api: "partial_outage"},
                notify=False,
            ),
        ),
        agent,
    )
    start = timezone.now() + timedelta(days=2)
    services.create_maintenance(
        services.NewMaintenance(
            "Database upgrade",
            "The web application may be unavailable for up to 30 minutes.",
            [web],
            start,
            start + timedelta(hours=2),
            notify=False,
        ),
        agent,
    )
    services.create_maintenance(
        services.NewMaintenance("Portal restart", "Restarting now.", [portal], notify=False),
        agent,
    )
    return incident


def check_page(page: Page) -> None:
    expect(page.get_by_test_id("overall")).to_contain_text("Partial System Outage")
    expect(page.get_by_test_id("open-incident")).to_contain_text("Errors when saving reports")
    bold = page.get_by_test_id("open-incident").locator("strong", has_text="error 500")
    expect(bold).to_be_visible()
    expect(page.get_by_test_id("active-maintenance")).to_contain_text("Unscheduled")
    expect(page.get_by_test_id("upcoming-maintenance")).to_contain_text("Database upgrade")
    expect(page.get_by_test_id("component")).to_have_count(4)
    expect(page.locator('[data-status="partial_outage"]')).to_contain_text("Partial outage")
    expect(page.get_by_test_id("support-hours")).to_contain_text("Support is")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_the_status_page_on_a_desktop(
    page: Page, live_server: Any, status_page_data: Incident, screenshot_dir: Path
) -> None:
    page.goto(f"{live_server.url}/status/")
    check_page(page)
    page.screenshot(path=screenshot_dir / "status-desktop.png", full_page=True)
    page.get_by_role("link", name="Errors when saving reports").first.click()
    expect(page.get_by_role("heading", name="Errors when saving reports")).to_be_visible()
    page.screenshot(path=screenshot_dir / "status-incident-desktop.png", full_page=True)


def test_the_status_page_on_a_phone(
    phone_page: Page, live_server: Any, status_page_data: Incident, screenshot_dir: Path
) -> None:
    phone_page.goto(f"{live_server.url}/status/")
    check_page(phone_page)
    bar = phone_page.locator(".bar").first.bounding_box()
    assert bar is not None and bar["width"] >= 1
    phone_page.screenshot(path=screenshot_dir / "status-phone.png", full_page=True)


def test_an_agent_resolves_the_incident_from_the_desk_and_the_page_turns_green(
    page: Page, live_server: Any, agent: Any, status_page_data: Incident, screenshot_dir: Path
) -> None:
    log_in(page, live_server.url, agent.email, PASSWORD)
    page.goto(f"{live_server.url}/desk/status/")
    page.get_by_role("link", name="Errors when saving reports").click()
    page.screenshot(path=screenshot_dir / "status-desk-incident.png", full_page=True)
    form = page.locator("#update")
    form.get_by_label("Status").select_option("resolved")
    form.get_by_label("Body").fill("The fix is deployed; saving works again.")
    form.get_by_label("Notify subscribers and webhooks").uncheck()
    with page.expect_navigation():
        form.get_by_role("button", name="Post the update").click()
    expect(page.get_by_test_id("incident-status")).to_have_text("Resolved")
    page.goto(f"{live_server.url}/status/")
    expect(page.get_by_test_id("overall")).to_contain_text("Service Under Maintenance")
    expect(page.get_by_test_id("open-incident")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "status-after-resolve.png", full_page=True)


def test_subscribing_and_the_history_on_a_phone(
    phone_page: Page, live_server: Any, status_page_data: Incident, screenshot_dir: Path
) -> None:
    phone_page.goto(f"{live_server.url}/status/subscribe/")
    phone_page.get_by_label("Email address").fill("ops@acme.example")
    phone_page.get_by_label("API").check()
    phone_page.screenshot(path=screenshot_dir / "status-subscribe-phone.png", full_page=True)
    with phone_page.expect_navigation():
        phone_page.get_by_role("button", name="Subscribe").click()
    expect(phone_page.get_by_test_id("subscribe-sent")).to_contain_text("ops@acme.example")
    phone_page.goto(f"{live_server.url}/status/history/")
    # Upcoming maintenance is not history yet.
    expect(phone_page.get_by_test_id("history-entry")).to_have_count(2)
    assert phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    phone_page.screenshot(path=screenshot_dir / "status-history-phone.png", full_page=True)
