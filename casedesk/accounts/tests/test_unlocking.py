"""Agents see and unlock their customers' locked accounts; every unlock is logged."""

from __future__ import annotations

import pytest
from django.test import Client

from casedesk.accounts import lockout
from casedesk.accounts.models import LockoutEvent

pytestmark = pytest.mark.django_db


def lock(email: str) -> None:
    client = Client()
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": email, "password": "wrong"}, REMOTE_ADDR="203.0.113.5"
        )
    assert lockout.active_lock(email) is not None


def test_an_agent_sees_a_locked_customer_and_unlocks_her(client, agent, alice):
    lock(alice.email)
    client.force_login(agent)
    page = client.get("/accounts/locked/").content.decode()
    assert alice.email in page and "Acme" in page and "203.0.113.5" in page
    response = client.post(
        "/accounts/locked/unlock/", {"email": alice.email}, REMOTE_ADDR="192.0.2.44", follow=True
    )
    assert f"{alice.email} is unlocked" in response.content.decode()
    assert lockout.active_lock(alice.email) is None
    event = LockoutEvent.objects.filter(kind="unlocked").get()
    assert (event.email, event.by, event.ip_address, event.reason) == (
        alice.email,
        agent,
        "192.0.2.44",
        "by_staff",
    )
    assert "Unlocked: Unlocked by staff" in client.get("/accounts/locked/").content.decode()


def test_a_customer_can_log_in_at_once_after_an_agent_unlocks(client, agent, alice):
    lock(alice.email)
    client.force_login(agent)
    client.post("/accounts/locked/unlock/", {"email": alice.email})
    response = Client().post(
        "/accounts/login/", {"username": alice.email, "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 302


def test_agents_do_not_see_or_unlock_staff_or_unknown_addresses(client, agent, admin_user):
    lock(admin_user.email)
    lock("nobody@example.net")
    client.force_login(agent)
    page = client.get("/accounts/locked/").content.decode()
    assert admin_user.email not in page and "nobody@example.net" not in page
    assert client.post("/accounts/locked/unlock/", {"email": admin_user.email}).status_code == 403
    assert lockout.active_lock(admin_user.email) is not None


def test_admins_see_every_lock_including_unknown_addresses(client, admin_user, agent, alice):
    lock(agent.email)
    lock("nobody@example.net")
    client.force_login(admin_user)
    page = client.get("/accounts/locked/").content.decode()
    assert agent.email in page and "nobody@example.net" in page and "(no account)" in page
    client.post("/accounts/locked/unlock/", {"email": "nobody@example.net"})
    assert lockout.active_lock("nobody@example.net") is None


def test_customers_may_not_see_or_unlock(client, alice, bob):
    lock(bob.email)
    client.force_login(alice)
    assert client.get("/accounts/locked/").status_code == 403
    assert client.post("/accounts/locked/unlock/", {"email": bob.email}).status_code == 403
    assert lockout.active_lock(bob.email) is not None


def test_unlocking_needs_a_post_with_a_csrf_token(agent, alice):
    lock(alice.email)
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.get("/accounts/locked/unlock/").status_code == 405
    assert client.post("/accounts/locked/unlock/", {"email": alice.email}).status_code == 403
    assert lockout.active_lock(alice.email) is not None


def test_unlocking_an_address_that_is_not_locked_says_so(client, agent, alice):
    client.force_login(agent)
    response = client.post("/accounts/locked/unlock/", {"email": alice.email}, follow=True)
    assert "was not locked" in response.content.decode()
    response = client.post("/accounts/locked/unlock/", {}, follow=True)
    assert "Say which address." in response.content.decode()
    assert not LockoutEvent.objects.exists()


def test_the_axes_reset_command_unlocks_and_logs_it(alice):
    from django.core.management import call_command

    lock(alice.email)
    call_command("axes_reset_username", alice.email)
    assert lockout.active_lock(alice.email) is None
    assert LockoutEvent.objects.filter(kind="unlocked", reason="by_staff").exists()


def test_an_agent_mails_a_locked_customer_a_reset_link(client, agent, alice, run_tasks):
    from django.core import mail

    lock(alice.email)
    client.force_login(agent)
    page = client.get("/accounts/locked/").content.decode()
    assert "Email a reset link" in page
    response = client.post("/accounts/locked/send-reset/", {"email": alice.email}, follow=True)
    assert f"reset link is on its way to {alice.email}" in response.content.decode()
    run_tasks()
    assert any("/accounts/reset/" in m.body and m.to == [alice.email] for m in mail.outbox)


def test_agents_cannot_mail_reset_links_to_staff_or_strangers(client, agent, admin_user, alice):
    client.force_login(agent)
    assert (
        client.post("/accounts/locked/send-reset/", {"email": admin_user.email}).status_code == 403
    )
    assert (
        client.post("/accounts/locked/send-reset/", {"email": "x@example.net"}).status_code == 403
    )
    client.force_login(alice)
    assert client.post("/accounts/locked/send-reset/", {"email": alice.email}).status_code == 403
