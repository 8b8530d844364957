"""Five wrong passwords in fifteen minutes lock an address for thirty, known or not."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from casedesk.accounts import lockout
from casedesk.accounts.models import LockoutEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def log_in(client: Client, email: str, password: str, ip: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, email: str, times: int, ip: str = "198.51.100.7"):
    response = None
    for _ in range(times):
        response = log_in(client, email, "wrong-password", ip)
    return response


def current_lock(email: str) -> lockout.Lock:
    lock = lockout.active_lock(email)
    assert lock is not None, f"{email} is not locked"
    return lock


def visible_text(response) -> str:
    """The page as a reader sees it: tags, the CSRF token and times removed."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text)


def test_four_failures_do_not_lock_and_the_fifth_does(client, alice):
    response = fail(client, alice.email, 4)
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    response = fail(client, alice.email, 1)
    assert response.status_code == 429
    page = response.content.decode()
    assert "temporarily locked" in page
    assert 'href="/help/lock-out/"' in page
    lock = lockout.active_lock(alice.email)
    assert lock is not None
    assert lock.until - lock.locked_at == timedelta(minutes=30)


def test_the_correct_password_is_refused_while_locked(client, alice):
    fail(client, alice.email, 5)
    response = log_in(client, alice.email, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_trying_while_locked_does_not_extend_the_lock(client, alice):
    fail(client, alice.email, 5)
    until = current_lock(alice.email).until
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        fail(client, alice.email, 3)
        assert current_lock(alice.email).until == until


def test_the_lock_ends_after_the_cool_off(client, alice):
    start = timezone.now()
    fail(client, alice.email, 5)
    with time_machine.travel(start + timedelta(minutes=29)):
        assert log_in(client, alice.email, PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=31)):
        response = log_in(client, alice.email, PASSWORD)
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(alice.pk)


def test_failures_spread_over_more_than_the_window_do_not_lock(client, alice):
    start = timezone.now()
    for minute in (0, 4, 8, 12, 16):  # five failures, but never five within 15 minutes
        with time_machine.travel(start + timedelta(minutes=minute)):
            fail(client, alice.email, 1)
    assert lockout.active_lock(alice.email) is None
    with time_machine.travel(start + timedelta(minutes=16, seconds=1)):
        assert log_in(client, alice.email, PASSWORD).status_code == 302


def test_a_successful_log_in_clears_earlier_failures(client, alice):
    fail(client, alice.email, 4)
    assert log_in(client, alice.email, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    fail(client, alice.email, 4)
    assert lockout.active_lock(alice.email) is None


def test_the_address_is_matched_whatever_its_case(client, alice):
    fail(client, "Alice@ACME.example", 5)
    assert lockout.active_lock("alice@acme.example") is not None


def test_settings_change_the_numbers(client, alice, settings):
    settings.LOCKOUT_FAILURES = 3
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOCKOUT_DURATION = timedelta(minutes=5)
    assert fail(client, alice.email, 3).status_code == 429
    lock = current_lock(alice.email)
    assert lock.until - lock.locked_at == timedelta(minutes=5)


def test_an_unknown_address_is_indistinguishable_from_a_known_one(alice):
    known, unknown = Client(), Client()
    known_pages = [fail(known, alice.email, 1) for _ in range(6)]
    unknown_pages = [fail(unknown, "nobody@acme.example", 1) for _ in range(6)]
    for k, u in zip(known_pages, unknown_pages, strict=True):
        assert k.status_code == u.status_code
        assert visible_text(k).replace(alice.email, "X") == visible_text(u).replace(
            "nobody@acme.example", "X"
        )
    assert [p.status_code for p in known_pages] == [200] * 4 + [429] * 2
    assert lockout.active_lock("nobody@acme.example") is not None


def test_every_lock_is_in_the_audit_log_with_time_address_and_ip(client, alice):
    fail(client, alice.email, 5, ip="203.0.113.9")
    event = LockoutEvent.objects.get()
    assert (event.kind, event.reason, event.email, event.ip_address) == (
        "locked",
        "failures",
        alice.email,
        "203.0.113.9",
    )
    assert event.until is not None


def test_the_lock_out_page_says_when_to_try_again_in_the_viewers_zone(client, alice):
    with time_machine.travel("2026-07-01 14:00:00Z", tick=False):
        client.cookies["casedesk_tz"] = "America/Chicago"
        page = fail(client, alice.email, 5).content.decode()
    assert "09:30 (CDT)" in page  # 14:00 UTC + 30 minutes, in Chicago summer time


def test_garbage_log_in_input_gets_the_form_back_not_an_error(client):
    for data in (
        {},
        {"username": ""},
        {"username": "x" * 5000, "password": "y"},
        {"username": "\x00\ud7ff", "password": "\x00"},
        {"username": ["a", "b"], "password": "p"},
    ):
        response = client.post(LOGIN, data, REMOTE_ADDR="198.51.100.7")
        assert response.status_code in (200, 429)


def test_the_owner_is_mailed_when_their_account_is_locked(client, alice, run_tasks):
    from django.core import mail

    alice.time_zone = "Europe/Berlin"
    alice.save()
    with time_machine.travel("2026-01-15 12:00:00Z", tick=False):
        fail(client, alice.email, 5)
        run_tasks()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "locked" in message.subject
    assert "until Thursday 13:30 CET" in message.body  # 12:00 UTC + 30 min, in her zone
    assert "/accounts/password_reset/" in message.body and "/help/lock-out/" in message.body


def test_no_lock_mail_goes_to_an_unknown_or_inactive_address(client, alice, run_tasks):
    from django.core import mail

    alice.is_active = False
    alice.save()
    fail(client, alice.email, 5)
    fail(client, "nobody@acme.example", 5)
    run_tasks()
    assert mail.outbox == []


@pytest.mark.usefixtures("calendars")
def test_the_lock_mail_uses_the_support_calendars_zone_by_default(client, alice, run_tasks):
    from django.core import mail

    with time_machine.travel("2026-07-01 14:00:00Z", tick=False):
        fail(client, alice.email, 5)
        run_tasks()
    body = mail.outbox[0].body
    assert "until Wednesday 09:30 CDT (America/Chicago)." in body  # the zone, not "CDT (CDT)"
    message = mail.outbox[0]
    assert isinstance(message, mail.EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert isinstance(html, str) and "09:30 CDT</strong> (America/Chicago)" in html


def test_the_form_warns_before_the_attempt_that_locks(client, alice):
    pages = [fail(client, alice.email, 1).content.decode() for _ in range(4)]
    assert "will lock this address" not in pages[1]
    assert "2 more wrong passwords will lock this address for 30 minutes" in pages[2]
    assert "1 more wrong password will lock this address for 30 minutes" in pages[3]


def test_an_unknown_address_is_warned_exactly_alike(client):
    page = fail(client, "nobody@acme.example", 3).content.decode()
    assert "2 more wrong passwords will lock this address" in page


@pytest.mark.usefixtures("calendars")
def test_re_locking_does_not_flood_the_owner_with_mail(client, alice, run_tasks):
    from django.core import mail

    start = timezone.now()
    for hours in (0, 1, 2):
        with time_machine.travel(start + timedelta(hours=hours)):
            fail(client, alice.email, 5)
            run_tasks()
    assert LockoutEvent.objects.filter(kind="locked").count() == 3
    assert len(mail.outbox) == 1
    with time_machine.travel(start + timedelta(hours=7)):
        fail(client, alice.email, 5)
        run_tasks()
    assert len(mail.outbox) == 2
