"""Agents can turn on TOTP two-factor; admins can require it."""

from __future__ import annotations

import base64
import re
import time

import pytest
import time_machine
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from casedesk.accounts.models import AccountPolicy
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """What the person's authenticator app shows now (offset in 30 s steps)."""
    token = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset)
    return f"{token:06d}"


def log_in(client: Client, email: str) -> None:
    response = client.post("/accounts/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302


def turn_on(client: Client, person) -> TOTPDevice:
    page = client.get("/accounts/two-factor/").content.decode()
    assert "<svg" in page  # the QR code, inline
    device = TOTPDevice.objects.get(user=person, confirmed=False)
    match = re.search(r'<code class="secret">([A-Z2-7= ]+)</code>', page)
    assert match
    secret = match.group(1).replace(" ", "")  # shown in groups of four

    assert base64.b32decode(secret) == device.bin_key
    response = client.post("/accounts/two-factor/", {"token": code_for(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_an_agent_turns_on_two_factor_and_is_asked_for_a_code_at_the_next_log_in(agent):
    client = Client()
    log_in(client, agent.email)
    device = turn_on(client, agent)
    client.post("/accounts/logout/")

    log_in(client, agent.email)
    response = client.get("/accounts/locked/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/verify/?next=")
    wrong = client.post(
        "/accounts/two-factor/verify/", {"token": "000000", "next": "/accounts/locked/"}
    )
    assert "not right" in wrong.content.decode()
    # A minute later: the throttle's wait after one failure is over, and the app shows a
    # new code (a code already used is refused: no replay).
    with time_machine.travel(time.time() + 60):
        right = client.post(
            "/accounts/two-factor/verify/", {"token": code_for(device), "next": "/accounts/locked/"}
        )
    assert right.status_code == 302 and right["Location"] == "/accounts/locked/"
    assert client.get("/accounts/locked/").status_code == 200


def password_step_done(person) -> tuple[Client, TOTPDevice]:
    """A person with two-factor on, logged in again with the password only."""
    client = Client()
    log_in(client, person.email)
    device = turn_on(client, person)
    client.post("/accounts/logout/")
    log_in(client, person.email)
    return client, device


def test_until_the_code_is_given_only_the_code_page_log_out_and_help_are_open(agent):
    client, _ = password_step_done(agent)
    for path in ("/", "/accounts/", "/admin/", "/hours/"):
        assert client.get(path).status_code == 302, path
    assert client.get("/help/").status_code == 200
    assert client.get("/accounts/two-factor/verify/").status_code == 200


def test_wrong_codes_are_throttled(agent):
    client, device = password_step_done(agent)
    client.post("/accounts/two-factor/verify/", {"token": "000000"})
    page = client.post("/accounts/two-factor/verify/", {"token": code_for(device)})
    assert "Too many wrong codes" in page.content.decode()


def test_a_next_address_elsewhere_is_not_followed(agent):
    client = Client()
    log_in(client, agent.email)
    device = TOTPDevice.objects.create(user=agent, confirmed=False, name="app")
    response = client.post(
        "/accounts/two-factor/", {"token": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/accounts/"


def test_an_admin_policy_makes_agents_set_it_up_first(agent):
    AccountPolicy.objects.update_or_create(pk=1, defaults={"require_two_factor_for_agents": True})
    client = Client()
    log_in(client, agent.email)
    response = client.get("/accounts/locked/")
    assert response["Location"].startswith("/accounts/two-factor/?next=")
    page = client.get("/accounts/two-factor/").content.decode()
    assert "requires two-factor log-in" in page
    turn_on(client, agent)
    assert client.get("/accounts/locked/").status_code == 200
    # and it cannot be turned off while required
    device = TOTPDevice.objects.get(user=agent)
    response = client.post(
        "/accounts/two-factor/disable/", {"token": code_for(device)}, follow=True
    )
    assert "stays on" in response.content.decode()
    assert TOTPDevice.objects.filter(user=agent, confirmed=True).exists()


def test_the_policy_does_not_touch_customers(alice):
    AccountPolicy.objects.update_or_create(pk=1, defaults={"require_two_factor_for_agents": True})
    client = Client()
    log_in(client, alice.email)
    assert client.get("/accounts/").status_code == 200
    assert client.get("/accounts/two-factor/").status_code == 403


def test_an_agent_turns_it_off_with_a_current_code(agent):
    client = Client()
    log_in(client, agent.email)
    device = turn_on(client, agent)
    refused = client.post("/accounts/two-factor/disable/", {"token": "123456"})
    assert refused.status_code == 400
    with time_machine.travel(time.time() + 60):
        client.post("/accounts/two-factor/disable/", {"token": code_for(device)})
    assert not TOTPDevice.objects.filter(user=agent).exists()


def test_an_admin_resets_a_lost_phone_from_the_admin(admin_client, agent):
    TOTPDevice.objects.create(user=agent, confirmed=True, name="app")
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "reset_two_factor", "_selected_action": [agent.pk]},
        follow=True,
    )
    assert "Removed 1 authenticator device" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=agent).exists()


def test_reading_the_policy_writes_nothing(agent):
    client = Client()
    log_in(client, agent.email)
    client.get("/accounts/")
    assert not AccountPolicy.objects.exists()
    assert AccountPolicy.current().require_two_factor_for_agents is False


@pytest.mark.parametrize("garbage", ["", "abcdef", "12345", "1" * 50, "１２３４５６", "\x00" * 6])
def test_garbage_codes_get_a_clear_error_not_a_crash(agent, garbage):
    client = Client()
    log_in(client, agent.email)
    TOTPDevice.objects.create(user=agent, confirmed=False, name="app")
    response = client.post("/accounts/two-factor/", {"token": garbage})
    assert response.status_code == 200
    page = response.content.decode()
    assert any(
        text in page
        for text in ("required", "Enter the digits", "at least 6", "at most 8", "not right", "null")
    ), page
