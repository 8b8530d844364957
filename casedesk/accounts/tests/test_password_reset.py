"""Forgot your password: a mailed one-time link that expires, the same answer for everyone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from casedesk.accounts import lockout
from casedesk.accounts.models import LockoutEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

RESET = "/accounts/password_reset/"
NEW_PASSWORD = "a-brand-new-passphrase-7"


def ask_for_reset(client: Client, email: str, ip: str = "198.51.100.7"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip, follow=True)


def link_in(message) -> str:
    match = re.search(r"http://[^/\s]+(/accounts/reset/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    form = client.get(link, follow=True)  # Django swaps the token for a session-held one
    assert form.status_code == 200
    return client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


def test_a_reset_mails_a_link_that_sets_a_new_password(client, alice, run_tasks):
    page = ask_for_reset(client, "Alice@Acme.example")
    assert "Check your email" in page.content.decode()
    assert mail.outbox == []  # sent by the worker, not the web request
    run_tasks()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "Reset your" in message.subject
    assert message.alternatives[0][1] == "text/html"  # type: ignore[attr-defined]
    done = set_password(client, link_in(message))
    assert "Your password is set" in done.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert (
        client.post(
            "/accounts/login/", {"username": alice.email, "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_the_link_works_only_once(client, alice, run_tasks):
    ask_for_reset(client, alice.email)
    run_tasks()
    link = link_in(mail.outbox[0])
    set_password(client, link)
    again = Client().get(link, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_the_link_expires_after_an_hour(client, alice, run_tasks):
    ask_for_reset(client, alice.email)
    run_tasks()
    link = link_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        page = client.get(link, follow=True)
    assert "This link no longer works" in page.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_link_lifetime_comes_from_settings(client, alice, run_tasks, settings):
    settings.PASSWORD_RESET_TIMEOUT = 10 * 60
    ask_for_reset(client, alice.email)
    run_tasks()
    assert "for 10 minutes" in mail.outbox[0].body
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        page = client.get(link_in(mail.outbox[0]), follow=True)
    assert "This link no longer works" in page.content.decode()


def test_an_unknown_address_gets_the_same_page_and_no_mail(alice, run_tasks):
    known = ask_for_reset(Client(), alice.email)
    unknown = ask_for_reset(Client(), "nobody@acme.example")
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    run_tasks()
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_an_inactive_account_gets_no_mail(client, alice, run_tasks):
    alice.is_active = False
    alice.save()
    ask_for_reset(client, alice.email)
    run_tasks()
    assert mail.outbox == []


def test_at_most_three_reset_mails_per_address_per_hour(alice, run_tasks):
    pages = [ask_for_reset(Client(), alice.email, ip=f"198.51.100.{n}") for n in range(5)]
    assert {p.status_code for p in pages} == {200}
    assert len({p.content for p in pages}) == 1  # the limit is not visible either
    run_tasks()
    assert len(mail.outbox) == 3
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        ask_for_reset(Client(), alice.email)
        run_tasks()
    assert len(mail.outbox) == 4


def test_a_successful_reset_unlocks_the_account_and_logs_it(client, alice, run_tasks):
    for _ in range(5):
        client.post("/accounts/login/", {"username": alice.email, "password": "nope"})
    assert lockout.active_lock(alice.email) is not None
    ask_for_reset(client, alice.email)
    run_tasks()
    locked_mail, reset_mail = mail.outbox  # the owner is told of the lock, then the link
    assert "locked" in locked_mail.subject
    set_password(client, link_in(reset_mail))
    assert lockout.active_lock(alice.email) is None
    unlocked = LockoutEvent.objects.filter(kind="unlocked").get()
    assert unlocked.reason == "password_reset"
    response = client.post("/accounts/login/", {"username": alice.email, "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_a_reset_logs_out_every_other_session(alice, run_tasks):
    elsewhere = Client()
    elsewhere.force_login(alice)
    assert elsewhere.get("/accounts/").status_code == 200
    client = Client()
    ask_for_reset(client, alice.email)
    run_tasks()
    set_password(client, link_in(mail.outbox[0]))
    assert elsewhere.get("/accounts/").status_code == 302  # back to the log-in page


def test_a_weak_new_password_is_refused_with_the_reason(client, alice, run_tasks):
    ask_for_reset(client, alice.email)
    run_tasks()
    page = set_password(client, link_in(mail.outbox[0]), password="password")
    assert "too common" in page.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_garbage_reset_input_gets_the_form_back(client):
    for data in ({}, {"email": "not an address"}, {"email": "x" * 400 + "@example.com"}):
        response = client.post(RESET, data)
        assert response.status_code == 200
        assert "Enter a valid email address" in response.content.decode() or "required" in (
            response.content.decode()
        )
    assert client.get("/accounts/reset/garbage/garbage-token/", follow=True).status_code == 200
