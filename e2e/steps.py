"""Steps a person takes in the browser, written once for every browser test."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page


def submit(page: Page) -> Any:
    """Click the form's button and wait for the page it answers with; returns the response.

    A log-in form that fails answers at the same URL, so waiting for a URL or for
    text already on the page would not wait at all.
    """
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value


def log_in(page: Page, base_url: str, email: str, password: str) -> Any:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    return submit(page)
