"""Login self-service in a real browser (PRODUCT.md, item 9).

A forgotten password is reset from a one-time link that the worker mails; five
wrong passwords lock an address, and the lock-out page says when it ends and
links to the lock-out help article; a reset or an agent ends the lock early;
an address with no account is locked with exactly the same page.

The live server runs in the test's process, so the worker started by
``run_tasks`` sends into the same ``mail.outbox`` (locmem backend) the test reads.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from e2e.conftest import DESKTOP
from e2e.steps import log_in, submit

# The live server needs committed data: transactional tests. Their flush removes
# what the migrations seed, which the fixtures put back (the lock-out page links
# to a help article).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("calendars", "help_articles"),
]

NEW_PASSWORD = "a-brand-new-passphrase-7"
WRONG_PASSWORD = "not-my-password-1"


# ---- Steps of these tests (the common ones are in e2e/steps.py) ----


def lock_out(page: Page, base_url: str, email: str) -> Any:
    """Type a wrong password until the address is locked; returns the last response."""
    for _ in range(settings.LOCKOUT_FAILURES - 1):
        log_in(page, base_url, email, WRONG_PASSWORD)
        expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    return log_in(page, base_url, email, WRONG_PASSWORD)


def ask_for_reset(page: Page, email: str) -> None:
    """On the "Forgot your password?" form, ask for a link and see the neutral answer."""
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.fill("input[name=email]", email)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def mailed_reset_link(base_url: str, email: str) -> str:
    """The reset link in the one reset mail sent to this address, pointed at the live server.

    The mail is written with CASEDESK_BASE_URL; only its path is the link. (A locked
    account's owner also gets a mail saying so: that one has no link to follow.)
    """
    sent = [
        message
        for message in mail.outbox
        if message.to == [email] and "/accounts/reset/" in str(message.body)
    ]
    assert len(sent) == 1, [message.to for message in mail.outbox]
    body = str(sent[0].body)
    match = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", body)
    assert match, body
    return base_url + match.group(1)


def choose_new_password(page: Page, link: str, password: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.fill("input[name=new_password1]", password)
    page.fill("input[name=new_password2]", password)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()


def main_text_masked(page: Page) -> str:
    """The visible text of the page's main part, with addresses and clock times masked."""
    text = page.locator("main").inner_text()
    text = re.sub(r"[\w.+-]+@[\w.-]+", "<address>", text)
    text = re.sub(r"\b\d{1,2}:\d{2}\b", "<time>", text)
    return re.sub(r"about \d+ minutes?", "about <n> minutes", text)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Page]]:
    """Another browser beside ``page`` (an agent's, or one in another time zone)."""
    contexts = []

    def open_page(**options: Any) -> Page:
        context = browser.new_context(viewport=DESKTOP, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page: Page = context.new_page()
        return page

    yield open_page
    for context in contexts:
        context.close()


# ---- Forgotten password ----


def test_a_customer_who_forgot_her_password_sets_a_new_one_from_the_mailed_link(
    page, live_server, alice, run_tasks, screenshot_dir
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.screenshot(path=screenshot_dir / "login-desktop.png", full_page=True)
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.screenshot(path=screenshot_dir / "reset-form-desktop.png", full_page=True)

    ask_for_reset(page, alice.email)
    page.screenshot(path=screenshot_dir / "check-your-email-desktop.png", full_page=True)
    assert mail.outbox == []  # the worker sends it, not the web request
    run_tasks()
    link = mailed_reset_link(live_server.url, alice.email)

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.screenshot(path=screenshot_dir / "new-password-desktop.png", full_page=True)
    choose_new_password(page, link, NEW_PASSWORD)

    page.locator("main").get_by_role("link", name="Log in").click()
    page.fill("input[name=username]", alice.email)
    page.fill("input[name=password]", NEW_PASSWORD)
    submit(page)
    expect(page).to_have_url(f"{live_server.url}/portal/")  # a log-in lands on her cases
    page.goto(f"{live_server.url}/accounts/")
    expect(page.get_by_role("row", name="Organization")).to_contain_text("Acme")

    page.goto(link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()


def test_logging_in_lands_a_customer_on_her_cases(page, live_server, alice, priorities):
    log_in(page, live_server.url, alice.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/portal/")


def test_the_password_rules_are_the_new_password_fields_description(page, live_server, alice):
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)
    page.goto(f"{live_server.url}/accounts/reset/{uid}/{token}/")
    field = page.get_by_label("New password", exact=True)
    expect(field).to_have_accessible_description(re.compile("at least 8 characters"))


# ---- Lock-out ----


def test_five_wrong_passwords_lock_the_account_and_the_page_links_to_the_help_article(
    open_page, live_server, alice, screenshot_dir
):
    page = open_page(timezone_id="America/Chicago")
    locked_at = timezone.now()
    response = lock_out(page, live_server.url, alice.email)

    assert response.status == 429
    expect(page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        f"After {settings.LOCKOUT_FAILURES} unsuccessful log-in attempts"
    )
    # When to try again: a clock time in the viewer's zone, and the lock's end in
    # machine-readable form.
    until = page.locator("main time")
    expect(until).to_have_text(re.compile(r"^\d{2}:\d{2} \((CST|CDT)\)$"))
    ends = datetime.fromisoformat(str(until.get_attribute("datetime")))
    expected = locked_at + settings.LOCKOUT_DURATION
    assert abs(ends - expected) < timedelta(minutes=1), (ends, expected)
    page.screenshot(path=screenshot_dir / "locked-out-desktop.png", full_page=True)

    page.get_by_role("link", name="Why am I locked out, and how do I get back in?").click()
    expect(page).to_have_url(f"{live_server.url}/help/lock-out/")
    expect(page.get_by_role("heading", name="Locked out of your account")).to_be_visible()

    # The right password does not get through while the lock lasts.
    response = log_in(page, live_server.url, alice.email, PASSWORD)
    assert response.status == 429
    expect(page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()


def test_a_locked_customer_gets_back_in_by_resetting_her_password(
    page, live_server, alice, run_tasks
):
    lock_out(page, live_server.url, alice.email)
    page.get_by_role("link", name="reset your password").click()
    ask_for_reset(page, alice.email)
    run_tasks()
    choose_new_password(page, mailed_reset_link(live_server.url, alice.email), NEW_PASSWORD)
    expect(page.locator("main")).to_contain_text("the account is unlocked")

    log_in(page, live_server.url, alice.email, NEW_PASSWORD)
    page.locator("header").get_by_role("link", name=alice.email).click()
    expect(page.get_by_role("row", name="Organization")).to_contain_text("Acme")


def test_an_agent_unlocks_a_customer_from_the_locked_accounts_page(
    page, open_page, live_server, alice, agent, screenshot_dir
):
    lock_out(page, live_server.url, alice.email)
    expect(page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()

    agent_page = open_page()
    log_in(agent_page, live_server.url, agent.email, PASSWORD)
    agent_page.get_by_role("link", name="Locked accounts").first.click()
    expect(agent_page.get_by_role("heading", name="Locked accounts")).to_be_visible()
    unlock = agent_page.get_by_role("button", name="Unlock")
    row = agent_page.get_by_role("row").filter(has_text=alice.email).filter(has=unlock)
    expect(row).to_contain_text("Acme")
    agent_page.screenshot(path=screenshot_dir / "locked-accounts-desktop.png", full_page=True)
    row.get_by_role("button", name="Unlock").click()  # no confirmation step
    expect(agent_page.get_by_role("status")).to_have_text(
        f"{alice.email} is unlocked and can log in again."
    )
    expect(agent_page.get_by_text("No account is locked right now.")).to_be_visible()

    log_in(page, live_server.url, alice.email, PASSWORD)
    page.locator("header").get_by_role("link", name=alice.email).click()
    expect(page.get_by_role("row", name="Organization")).to_contain_text("Acme")


def test_an_unknown_address_gets_the_same_locked_page_as_a_customer(page, live_server, alice):
    customer = lock_out(page, live_server.url, alice.email)
    customer_text = main_text_masked(page)
    page.context.clear_cookies()
    nobody = lock_out(page, live_server.url, "nobody@acme.example")
    nobody_text = main_text_masked(page)

    assert "Account temporarily locked" in nobody_text
    assert nobody.status == customer.status == 429
    assert nobody_text == customer_text


# ---- How the pages look ----


def test_the_log_in_and_lock_out_pages_fit_a_phone_screen(
    phone_page, live_server, alice, screenshot_dir
):
    def sideways_overflow() -> int:
        return int(phone_page.evaluate("document.documentElement.scrollWidth - innerWidth"))

    phone_page.goto(f"{live_server.url}/accounts/login/")
    expect(phone_page.get_by_role("heading", name="Log in")).to_be_visible()
    assert sideways_overflow() <= 0
    phone_page.screenshot(path=screenshot_dir / "login-phone.png", full_page=True)

    lock_out(phone_page, live_server.url, alice.email)
    expect(phone_page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()
    assert sideways_overflow() <= 0
    phone_page.screenshot(path=screenshot_dir / "locked-out-phone.png", full_page=True)


def test_an_agent_turns_on_two_factor_by_scanning_the_code(
    page, live_server, agent, screenshot_dir
):
    log_in(page, live_server.url, agent.email, PASSWORD)
    page.goto(f"{live_server.url}/accounts/two-factor/")
    expect(page.get_by_role("heading", name="Two-factor log-in")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    page.screenshot(path=screenshot_dir / "two-factor-setup-desktop.png", full_page=True)

    # What the authenticator app does with the key: the code for this moment.
    key = base64.b32decode(page.locator("code.secret").inner_text().replace(" ", ""))
    page.fill("input[name=token]", f"{totp(key):06d}")
    page.click("button[type=submit]")
    expect(page.get_by_role("status")).to_have_text(
        "Two-factor log-in is on: log-ins will ask for a code."
    )


def test_the_two_factor_qr_code_is_shown_whole(page, live_server, agent):
    log_in(page, live_server.url, agent.email, PASSWORD)
    page.goto(f"{live_server.url}/accounts/two-factor/")
    drawn, shown = page.locator(".qr svg").evaluate(
        """svg => [svg.querySelector("path").getBoundingClientRect(),
                   svg.getBoundingClientRect()].map(r => [r.width, r.height])"""
    )
    assert drawn[0] <= shown[0] and drawn[1] <= shown[1], (drawn, shown)
