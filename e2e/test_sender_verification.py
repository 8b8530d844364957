"""Mail whose sender could not be verified, on the desk, in a real browser (issue 17).

On a weeknight a mail "From: alice@acme.example" with a critical subject came from a
server Acme's SPF does not list, and Acme publishes DMARC p=reject: the pipeline
suspended it (no case, no page). Sam finds it first on the Mail page with the reason,
releases it in one click (he called Alice: it was her, from a new mail provider), and
lands on the critical case, which paged on-call. Another case, opened by mail that no
check could vouch for, shows "Sender not verified" by its requester and in the queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Page, expect

from casedesk.cases.models import Case, EventKind
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.process import process
from casedesk.mail.store import store
from casedesk.mail.tests.conftest import build
from casedesk.oncall.defaults import ensure_oncall
from casedesk.oncall.demo import ensure_demo_oncall
from conftest import PASSWORD
from e2e.conftest import DESKTOP, PHONE
from e2e.steps import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]

CT = ZoneInfo("America/Chicago")
WEDNESDAY_NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
# Acme's mail leaves from 198.51.100.25 only, and Acme asks receivers to reject the rest.
ACME_SPF = "v=spf1 ip4:198.51.100.25 -all"
ACME_DMARC = "v=DMARC1; p=reject"


def _suspended(subject: str, sender: str = "alice@acme.example") -> InboundMessage:
    """A message from a server Acme's SPF does not list, through the real pipeline
    (stored as the SMTP receiver stores it, then processed: SPF and DMARC asked of the
    test DNS server), which suspends it."""
    raw = build(subject, "Nobody can log in since 01:40. Please call me.", sender=sender)
    stored = store(
        raw,
        source="smtp",
        envelope_from=sender,
        recipients=["support@example.com"],
        client_ip="203.0.113.9",
        helo="mx.new-provider.example",
    )
    process(stored.message.pk)
    message = InboundMessage.objects.get(pk=stored.message.pk)
    assert message.state == State.SUSPENDED, message.outcome
    return message


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_agent_releases_suspended_critical_mail_and_sees_unverified_cases_marked(
    browser: Any,
    live_server: Any,
    alice: Any,
    agent: Any,
    open_case: Any,
    settings: Any,
    tmp_path: Path,
    dns_zone: Any,
) -> None:
    dns_zone.publish_spf("acme.example", ACME_SPF)
    dns_zone.publish_dmarc("acme.example", ACME_DMARC)
    base = live_server.url
    settings.BASE_URL = base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    ensure_oncall()
    ensure_demo_oncall()  # Sam primary, Avery the fallback (555 numbers)
    with time_machine.travel(WEDNESDAY_NIGHT - timedelta(minutes=30), tick=True):
        unverified = open_case(alice, "High", subject="Invoices show the wrong VAT rate")
        Case.objects.filter(pk=unverified.pk).update(unverified_sender=True)
        _suspended("Question about our invoice", sender="carol@acme.example")
    with time_machine.travel(WEDNESDAY_NIGHT - timedelta(minutes=20), tick=True):
        critical = _suspended("CRITICAL: nobody can log in")
    with time_machine.travel(WEDNESDAY_NIGHT, tick=True):
        context = browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago")
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        log_in(tab, base, agent.email, PASSWORD)

        # The mail list: the critical one first, with why it waits and a Release button.
        tab.goto(f"{base}/desk/mail/")
        expect(tab.get_by_role("link", name="Suspended: sender not verified (2)")).to_be_visible()
        rows = tab.get_by_test_id("mail-list").locator("tbody tr")
        expect(rows).to_have_count(2)
        first = rows.first
        expect(first).to_contain_text("CRITICAL: nobody can log in")
        expect(first.locator(".tag.alarm")).to_have_text("critical")
        expect(first).to_contain_text("acme.example publishes DMARC p=reject")
        tab.screenshot(path=str(shots / "mail-list-suspended.png"), full_page=True)

        # The message page: the Sender panel says what was found and who checked.
        first.get_by_role("link", name="Read, or dismiss").click()
        panel = tab.get_by_test_id("mail-sender")
        expect(panel).to_contain_text("failed")
        expect(panel).to_contain_text("our DNS lookups")
        expect(panel).to_contain_text("203.0.113.9")
        tab.screenshot(path=str(shots / "mail-sender-panel.png"), full_page=True)

        # One click on the list releases it and lands on the new critical case.
        tab.goto(f"{base}/desk/mail/?show=suspended")
        with tab.expect_navigation():
            tab.get_by_test_id("mail-list").locator("tbody tr").first.get_by_role(
                "button", name="Release"
            ).click()
        case = Case.objects.get(subject="CRITICAL: nobody can log in")
        assert tab.url == f"{base}/desk/cases/{case.reference}/"
        expect(tab.get_by_role("status").first).to_have_text(
            f"Released the mail from alice@acme.example: created {case.reference} Critical, "
            "on-call paged."
        )
        assert case.events.filter(kind=EventKind.PAGED).exists()
        critical.refresh_from_db()
        assert (critical.state, critical.released_by) == (State.CREATED, agent)
        tab.screenshot(path=str(shots / "released-case.png"), full_page=True)

        # A case opened by mail no check vouched for: the badge by its requester, and why.
        tab.goto(f"{base}/desk/cases/{unverified.reference}/")
        badge = tab.get_by_test_id("case-header").get_by_test_id("sender-not-verified")
        expect(badge).to_have_text("Sender not verified")
        assert "Check with the requester" in (badge.get_attribute("title") or "")
        expect(tab.get_by_test_id("unverified-sender-note")).to_contain_text(
            "Before acting on a critical request, check with the requester"
        )
        tab.screenshot(path=str(shots / "unverified-case.png"), full_page=True)

        # The queue marks it too; the released case (an agent vouched) is not marked.
        tab.goto(f"{base}/desk/")
        marked = tab.locator(f'tr[data-reference="{unverified.reference}"]')
        expect(marked.get_by_test_id("sender-not-verified")).to_be_visible()
        released = tab.locator(f'tr[data-reference="{case.reference}"]')
        expect(released).to_be_visible()
        tab.screenshot(path=str(shots / "queue.png"), full_page=True)
        context.close()

        phone = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        small = phone.new_page()
        small.set_default_timeout(10_000)
        log_in(small, base, agent.email, PASSWORD)
        small.goto(f"{base}/desk/mail/?show=all")
        small.screenshot(path=str(shots / "mail-list-phone.png"), full_page=True)
        assert _fits(small), "the mail list reaches past a phone's screen"
        small.goto(f"{base}/desk/cases/{unverified.reference}/")
        expect(small.get_by_test_id("unverified-sender-note")).to_be_visible()
        small.screenshot(path=str(shots / "unverified-case-phone.png"), full_page=True)
        assert _fits(small), "the case page reaches past a phone's screen"
        phone.close()
    print(f"screenshots in {shots}")
