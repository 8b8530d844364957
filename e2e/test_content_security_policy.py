"""The main pages under the Content-Security-Policy in a real browser: nothing the policy
blocks (a ``securitypolicyviolation`` event or a console report), for a visitor, a
customer, an agent (the chat console's WebSocket included) and the admin.

The demo data gives every page something to draw (an open incident's banner, the fee
chart, the on-call report's chart); screenshots go to e2e/screenshots/csp-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from casedesk.cases.models import Case
from casedesk.core.demo import DEMO_PASSWORD, load_demo
from e2e import chat_support
from e2e.conftest import DESKTOP
from e2e.steps import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
]

chat_server = chat_support.chat_server  # casedesk over ASGI: the chat's socket works

# Recorded in the page before any of its scripts run (Playwright's init scripts are not
# subject to the page's policy); read back after each page.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


class Browser:
    """One person's browser context that remembers every policy complaint."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago")
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.sockets: list[str] = []
        self.page.on("console", self._console)
        self.page.on("websocket", lambda socket: self.sockets.append(socket.url))

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def visit(self, path: str, *, settle: bool = True) -> list[str]:
        """Load ``path``; the violations seen there (events and console reports)."""
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, (path, response)
        assert response.headers.get("content-security-policy"), path
        if settle:
            self.page.wait_for_load_state("networkidle")
        return self.violations()

    def violations(self) -> list[str]:
        found = list(self.page.evaluate("window.__csp || []")) + self.console
        self.console = []
        return found

    def shot(self, directory: Path, name: str) -> None:
        self.page.screenshot(path=directory / f"csp-{name}.png", full_page=True)


@pytest.fixture
def demo() -> None:
    load_demo()


@pytest.fixture
def people(browser: Any, chat_server: str, demo: None) -> Iterator[dict[str, Browser]]:
    made: dict[str, Browser] = {}
    for who, email in (
        ("visitor", ""),
        ("customer", "alice@acme.example"),
        ("agent", "agent@example.com"),
        ("admin", "admin@example.com"),
    ):
        person = Browser(browser, chat_server)
        if email:
            log_in(person.page, chat_server, email, DEMO_PASSWORD)
        made[who] = person
    yield made
    for person in made.values():
        person.context.close()


def test_the_main_pages_break_no_rule_of_the_policy(people, screenshot_dir):
    case = Case.objects.filter(requester__email="alice@acme.example").order_by("-pk").first()
    assert case is not None
    complaints: dict[str, list[str]] = {}

    def check(who: str, path: str, **options: Any) -> None:
        found = people[who].visit(path, **options)
        if found:
            complaints[f"{who} {path}"] = found

    customer, agent, admin = (people[k] for k in ("customer", "agent", "admin"))
    for path in ("/", "/status/", "/hours/", "/help/priorities/", "/help/", "/accounts/login/"):
        check("visitor", path)
    check("visitor", "/chat/embed/")
    check("visitor", "/api/v1/docs/")
    expect(people["visitor"].page.get_by_text("casedesk API").first).to_be_visible()
    people["visitor"].shot(screenshot_dir, "api-docs")
    check("customer", "/accounts/tokens/")
    people["customer"].shot(screenshot_dir, "api-tokens")

    for path in ("/portal/", "/portal/new/", f"/portal/cases/{case.reference}/"):
        check("customer", path)
    customer.shot(screenshot_dir, "portal-case")
    customer.visit("/portal/new/")
    customer.shot(screenshot_dir, "portal-new")

    for path in (
        "/desk/",
        f"/desk/cases/{case.reference}/",
        "/desk/oncall/",
        "/desk/oncall/report/",
        "/desk/phone/",
        "/desk/phone/fees/",
        "/desk/mail/",
        "/desk/status/",
    ):
        check("agent", path)
        if path.endswith(("report/", "fees/")):
            agent.shot(screenshot_dir, path.strip("/").replace("/", "-"))
    # The console holds its socket open (no network idle): wait for it to be connected.
    check("agent", "/desk/chat/", settle=False)
    expect(agent.page.get_by_test_id("chat-open-state")).not_to_have_text("")
    assert any(url.startswith("ws://") for url in agent.sockets), agent.sockets
    if found := agent.violations():
        complaints["agent /desk/chat/ (after connecting)"] = found
    agent.shot(screenshot_dir, "chat-console")

    for path in (
        "/admin/",
        "/admin/cases/case/",
        f"/admin/cases/case/{case.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/hours/calendar/",
    ):
        check("admin", path)
    admin.shot(screenshot_dir, "admin-case")

    assert not complaints, complaints


def test_the_new_case_button_is_disabled_once_pressed(people):
    customer = people["customer"]
    assert customer.visit("/portal/new/") == []
    page = customer.page
    # Keep the page: the form is checked, then its submission is stopped here (after
    # portal.js has seen it), so the button's state can be read.
    page.evaluate(
        """document.getElementById("new-case").addEventListener(
             "submit", (e) => e.preventDefault())"""
    )
    button = page.locator("#new-case button[type=submit]")
    expect(button).to_be_enabled()
    button.click()
    expect(button).to_be_disabled()
    assert customer.violations() == []
