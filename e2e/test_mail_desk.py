"""Mail from a stranger waits on the desk's Mail page until an agent says whose it is.

A message arrives over real SMTP from an address no organization claims; the worker
holds it. Sam finds it under "Needs attention", reads it (its HTML in a sandboxed
frame), assigns the sender to Acme, and the case opens with a link back to the mail.
"""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from casedesk.cases.models import Case
from casedesk.core.tests.embedded import free_port
from casedesk.mail.smtp import Receiver
from casedesk.mail.tests.conftest import build
from conftest import PASSWORD
from e2e.steps import log_in, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_agent_assigns_a_strangers_mail_and_the_case_opens(
    browser: Any,
    live_server: Any,
    agent: Any,
    acme: Any,
    priorities: Any,
    run_tasks: Any,
    settings: Any,
    tmp_path: Path,
    screenshot_dir: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    receiver = Receiver("127.0.0.1", free_port())
    receiver.start()
    try:
        raw = build(
            "Checkout fails for our EU shop",
            "Hello, since 08:00 every EU order fails at the payment step.",
            sender="Dana Newcomer <dana@newcomer.example>",
            html="<p>Hello, since 08:00 every <b>EU order</b> fails.</p><script>alert(1)</script>",
        )
        with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
            client.sendmail("dana@newcomer.example", ["support@example.com"], raw)
    finally:
        receiver.stop()
    run_tasks()

    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, base, agent.email, PASSWORD)
    page.goto(f"{base}/desk/mail/")
    listing = page.get_by_test_id("mail-list")
    expect(page.get_by_role("link", name="Needs attention (1)")).to_be_visible()
    expect(listing).to_contain_text("dana@newcomer.example")
    expect(listing).to_contain_text("unknown sender")
    page.screenshot(path=str(screenshot_dir / "desk-mail-needs-attention.png"), full_page=True)

    page.get_by_role("link", name="Checkout fails for our EU shop").click()
    expect(page.get_by_test_id("mail-text")).to_contain_text("every EU order fails")
    page.locator("details summary").click()
    frame = page.frame_locator("iframe.mail-html")
    expect(frame.locator("b")).to_have_text("EU order")
    page.screenshot(path=str(screenshot_dir / "desk-mail-message.png"), full_page=True)

    page.select_option("select[name=organization]", label="Acme")
    submit(page)
    case = Case.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"created {case.reference} Medium")
    page.get_by_role("link", name=case.reference).click()
    expect(page.get_by_test_id("timeline")).to_contain_text("every EU order fails")
    expect(page.get_by_role("link", name="Full message as received")).to_be_visible()
    assert case.requester.email == "dana@newcomer.example" and case.organization == acme

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    log_in(small, base, agent.email, PASSWORD)
    small.goto(f"{base}/desk/mail/?show=all")
    small.screenshot(path=str(screenshot_dir / "desk-mail-phone.png"), full_page=True)
    assert _fits(small), "the mail list reaches past a phone's screen"
    context.close()
    phone.close()
