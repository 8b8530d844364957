"""Per-network limits on log-in failures and reset requests (named policies)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from casedesk.lib.env import Rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_limits(settings):
    settings.RATE_LOGIN_FAILURES_PER_IP = Rate(6, timedelta(minutes=15))
    settings.RATE_RESET_PER_IP = Rate(4, timedelta(hours=1))


def test_spraying_many_addresses_from_one_network_is_stopped(tight_limits, alice):
    client = Client()
    codes = [
        client.post(
            "/accounts/login/",
            {"username": f"user{n}@acme.example", "password": "Winter2026!"},
            REMOTE_ADDR="198.51.100.20",
        ).status_code
        for n in range(8)
    ]
    assert codes == [200] * 6 + [429] * 2
    # Even the right password is refused from that network for now...
    refused = client.post(
        "/accounts/login/",
        {"username": alice.email, "password": "correct-horse-battery-9"},
        REMOTE_ADDR="198.51.100.20",
    )
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    # ...but not from another network, and not after the window.
    other = client.post(
        "/accounts/login/",
        {"username": alice.email, "password": "correct-horse-battery-9"},
        REMOTE_ADDR="198.51.100.21",
    )
    assert other.status_code == 302


def test_the_network_limit_clears_after_its_window(tight_limits, alice):
    start = timezone.now()
    client = Client()
    for n in range(6):
        client.post(
            "/accounts/login/",
            {"username": f"user{n}@acme.example", "password": "x"},
            REMOTE_ADDR="198.51.100.20",
        )
    with time_machine.travel(start + timedelta(minutes=16)):
        response = client.post(
            "/accounts/login/",
            {"username": alice.email, "password": "correct-horse-battery-9"},
            REMOTE_ADDR="198.51.100.20",
        )
    assert response.status_code == 302


def test_successful_log_ins_do_not_count_against_the_network(tight_limits, alice, bob):
    for _ in range(10):
        client = Client()
        response = client.post(
            "/accounts/login/",
            {"username": alice.email, "password": "correct-horse-battery-9"},
            REMOTE_ADDR="198.51.100.30",
        )
        assert response.status_code == 302


def test_reset_requests_from_one_network_are_limited(tight_limits):
    client = Client()
    codes = [
        client.post(
            "/accounts/password_reset/",
            {"email": f"user{n}@acme.example"},
            REMOTE_ADDR="198.51.100.40",
        ).status_code
        for n in range(6)
    ]
    assert codes == [302] * 4 + [429] * 2


def test_behind_a_proxy_the_client_is_the_address_the_proxy_added(tight_limits, settings):
    settings.BEHIND_PROXY = True
    client = Client()
    for n in range(4):
        client.post(
            "/accounts/password_reset/",
            {"email": f"user{n}@acme.example"},
            REMOTE_ADDR="10.0.0.2",
            # the first entry is the client's to invent; the last is our proxy's
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.50",
        )
    blocked = client.post(
        "/accounts/password_reset/",
        {"email": "x@acme.example"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.50",
    )
    assert blocked.status_code == 429
    another = client.post(
        "/accounts/password_reset/",
        {"email": "x@acme.example"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.51",
    )
    assert another.status_code == 302
