"""Holes a security review found, each pinned by the behaviour that closes it."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from casedesk.accounts import lockout
from casedesk.accounts.models import LockoutEvent, LoginFailure
from casedesk.lib.env import Rate
from conftest import PASSWORD


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit(alice, settings):
    # A real (slow) hash, so the guesses overlap while they are being checked.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    alice.set_password(PASSWORD)
    alice.save()
    results: list[int] = []
    start = threading.Barrier(12)

    def guess(n: int) -> None:
        try:
            start.wait()
            response = Client().post(
                "/accounts/login/",
                {"username": alice.email, "password": f"guess-{n}"},
                REMOTE_ADDR=f"198.51.100.{n}",
            )
            results.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = results.count(200)  # "do not match": a password that was really checked
    assert checked <= settings.LOCKOUT_FAILURES, results
    assert results.count(429) == 12 - checked
    assert LockoutEvent.objects.filter(kind="locked").count() == 1
    assert LoginFailure.objects.filter(email=alice.email).count() <= settings.LOCKOUT_FAILURES


pytestmark = pytest.mark.django_db


def test_ipv6_clients_are_limited_per_64_network(settings):
    settings.RATE_LOGIN_FAILURES_PER_IP = Rate(3, settings.LOCKOUT_WINDOW)
    client = Client()
    codes = [
        client.post(
            "/accounts/login/",
            {"username": f"user{n}@acme.example", "password": "x"},
            REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}",
        ).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    other_network = client.post(
        "/accounts/login/",
        {"username": "user9@acme.example", "password": "x"},
        REMOTE_ADDR="2001:db8:1:3::1",
    )
    assert other_network.status_code == 200


def test_a_proxy_address_with_a_port_is_still_the_client(settings):
    settings.BEHIND_PROXY = True
    settings.RATE_LOGIN_FAILURES_PER_IP = Rate(2, settings.LOCKOUT_WINDOW)
    client = Client()

    def post(forwarded: str) -> int:
        return client.post(
            "/accounts/login/",
            {"username": "someone@acme.example", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    assert [post("203.0.113.7:5555") for _ in range(3)] == [200, 200, 429]
    assert post("198.51.100.50:1234") == 200  # another client is not caught with it
    assert post("[2001:db8::1]:443") == 200


def test_an_unreadable_client_address_skips_the_network_limit_but_not_the_lock(settings, alice):
    settings.RATE_LOGIN_FAILURES_PER_IP = Rate(1, settings.LOCKOUT_WINDOW)
    client = Client()
    codes = [
        client.post(
            "/accounts/login/", {"username": alice.email, "password": "x"}, REMOTE_ADDR=""
        ).status_code
        for _ in range(6)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]  # locked by address, not by network
    assert lockout.active_lock(alice.email) is not None


def test_an_address_that_grows_when_lower_cased_is_refused_not_stored(client):
    response = client.post("/accounts/login/", {"username": "İ" * 254, "password": "x"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert not LoginFailure.objects.exists()
    reset = client.post("/accounts/password_reset/", {"email": "İ" * 240 + "@example.com"})
    assert reset.status_code == 200


def test_control_characters_in_the_address_never_reach_the_log(client, caplog):
    client.post(
        "/accounts/login/",
        {"username": "x@acme.example\nCRITICAL forged line", "password": "x"},
    )
    assert "\nCRITICAL forged line" not in caplog.text


@pytest.mark.parametrize("target", ["foo", "foo/bar", "//evil.example/", "https://evil.example/"])
def test_a_next_that_is_not_a_path_here_is_ignored_not_a_crash(client, agent, admin_user, target):
    client.force_login(agent)
    assert client.get(f"/accounts/two-factor/verify/?next={target}").status_code == 302
    client.force_login(admin_user)
    response = client.get(f"/admin/login/?next={target}")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_log_in_link_that_points_at_itself_does_not_loop(client, alice):
    client.force_login(alice)
    response = client.get("/accounts/login/?next=/accounts/login/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_two_tabs_opening_two_factor_set_up_leave_one_pending_key(client, agent):
    client.force_login(agent)
    TOTPDevice.objects.create(user=agent, confirmed=False, name="tab 1")
    TOTPDevice.objects.create(user=agent, confirmed=False, name="tab 2")
    assert client.get("/accounts/two-factor/").status_code == 200
    assert client.get("/accounts/two-factor/").status_code == 200
    assert TOTPDevice.objects.filter(user=agent, confirmed=False).count() == 1


def test_wrong_old_passwords_on_the_change_form_count_towards_the_lock(client, alice):
    client.force_login(alice)
    codes = [
        client.post(
            "/accounts/password_change/",
            {
                "old_password": f"guess-{n}",
                "new_password1": "x-new-pass-1",
                "new_password2": "x-new-pass-1",
            },
        ).status_code
        for n in range(6)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert lockout.active_lock(alice.email) is not None
