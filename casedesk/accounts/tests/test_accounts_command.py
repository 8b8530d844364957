"""`casedesk accounts`: list locks, unlock, invite, from the command line."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from casedesk.accounts import lockout
from casedesk.accounts.models import LockoutEvent

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("accounts", *args, stdout=out)
    return out.getvalue()


def test_an_operator_lists_and_unlocks_a_locked_account(alice):
    assert run("locked") == "no account is locked\n"
    for _ in range(5):
        Client().post(
            "/accounts/login/",
            {"username": alice.email, "password": "x"},
            REMOTE_ADDR="203.0.113.4",
        )
    listed = run("locked")
    assert alice.email in listed and "203.0.113.4" in listed
    assert run("unlock", "ALICE@acme.example") == f"unlocked {alice.email}\n"
    assert lockout.active_lock(alice.email) is None
    assert LockoutEvent.objects.filter(kind="unlocked", reason="by_staff").exists()
    with pytest.raises(CommandError, match="is not locked"):
        run("unlock", alice.email)


def test_an_operator_resends_an_invitation(alice):
    assert run("invite", alice.email) == f"invitation sent to {alice.email}\n"
    assert [m.to for m in mail.outbox] == [[alice.email]]
    with pytest.raises(CommandError, match="no person has the address"):
        run("invite", "nobody@example.net")
    alice.is_active = False
    alice.save()
    with pytest.raises(CommandError, match="deactivated"):
        run("invite", alice.email)


def test_an_operator_clears_an_offices_network_limit(alice, settings):
    from casedesk.lib.env import Rate

    settings.RATE_LOGIN_FAILURES_PER_IP = Rate(2, settings.LOCKOUT_WINDOW)
    client = Client()

    def log_in(password: str) -> int:
        return client.post(
            "/accounts/login/",
            {"username": alice.email, "password": password},
            REMOTE_ADDR="2001:db8:5:6::10",
        ).status_code

    assert [log_in("x"), log_in("y"), log_in("correct-horse-battery-9")] == [200, 200, 429]
    assert (
        run("unblock", "2001:db8:5:6::99")
        == "cleared the log-in and reset limits of 2001:db8:5:6::/64\n"
    )
    assert log_in("correct-horse-battery-9") == 302
    with pytest.raises(CommandError, match="not an IP address"):
        run("unblock", "office")
