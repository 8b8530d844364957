"""An admin invites a person: an emailed one-time link to set a first password."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from casedesk.accounts import services
from casedesk.accounts.models import User

pytestmark = pytest.mark.django_db

FIRST = "my-first-passphrase-42"


def invite_link(message) -> str:
    match = re.search(r"http://[^/\s]+(/accounts/invite/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def accept(client: Client, link: str, password: str = FIRST):
    form = client.get(link, follow=True)
    return client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


@pytest.fixture
def carol(acme):
    return User.objects.create_user("carol@acme.example", organization=acme, full_name="Carol")


def test_an_invited_person_sets_a_password_and_is_logged_in(client, carol, admin_user):
    services.invite(carol, by=admin_user)
    message = mail.outbox[0]
    assert message.to == [carol.email]
    assert "invited" in message.subject.lower()
    assert "Avery Admin invited you" in message.body and "Acme" in message.body
    page = accept(client, invite_link(message))
    assert "Your account" in page.content.decode()
    carol.refresh_from_db()
    assert carol.check_password(FIRST)
    assert carol.invited_at is not None


def test_an_invitation_works_once(client, carol):
    services.invite(carol)
    link = invite_link(mail.outbox[0])
    accept(client, link)
    again = Client().get(link, follow=True)
    assert "This invitation no longer works" in again.content.decode()


def test_an_invitation_expires_after_its_lifetime(client, carol, settings):
    services.invite(carol)
    link = invite_link(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        assert "choose your password" in Client().get(link, follow=True).content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert "no longer works" in client.get(link, follow=True).content.decode()


def test_an_invitation_link_is_not_a_reset_link_and_back(client, carol):
    services.invite(carol)
    invite_path = invite_link(mail.outbox[0])
    as_reset = invite_path.replace("/accounts/invite/", "/accounts/reset/")
    assert "This link no longer works" in client.get(as_reset, follow=True).content.decode()


def test_an_invited_person_whose_link_expired_can_use_forgot_password(carol, run_tasks):
    Client().post("/accounts/password_reset/", {"email": carol.email})
    run_tasks()
    assert [m.to for m in mail.outbox] == [[carol.email]]


def test_adding_a_person_without_a_password_in_the_admin_invites_them(admin_client, acme):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "dave@acme.example",
            "full_name": "Dave",
            "role": "customer",
            "organization": acme.pk,
            "usable_password": "false",
        },
        follow=True,
    )
    assert response.status_code == 200
    dave = User.objects.get(email="dave@acme.example")
    assert not dave.has_usable_password()
    assert [m.to for m in mail.outbox] == [["dave@acme.example"]]
    assert "Invitation sent to dave@acme.example" in response.content.decode()


def test_the_admin_refuses_a_customer_without_an_organization(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"email": "eve@example.net", "role": "customer", "usable_password": "false"},
    )
    assert "A customer belongs to one organization" in response.content.decode()
    assert not User.objects.filter(email="eve@example.net").exists()


def test_the_invite_action_emails_each_selected_active_person(admin_client, carol, bob):
    bob.is_active = False
    bob.save()
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "send_invitation", "_selected_action": [carol.pk, bob.pk]},
        follow=True,
    )
    assert "Sent 1 invitation" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[carol.email]]


def test_an_organization_is_managed_in_the_admin_with_domains_and_phones(admin_client):
    response = admin_client.post(
        "/admin/accounts/organization/add/",
        {
            "name": "Initech",
            "account_number": "",
            "after_hours_coverage": "on",
            "notes": "",
            "domains-TOTAL_FORMS": "1",
            "domains-INITIAL_FORMS": "0",
            "domains-0-domain": "Initech.example",
            "phones-TOTAL_FORMS": "1",
            "phones-INITIAL_FORMS": "0",
            "phones-0-number": "+1 555 555 0199",
            "phones-0-label": "NOC",
            "people-TOTAL_FORMS": "0",
            "people-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    from casedesk.accounts.models import Organization

    initech = Organization.objects.get(name="Initech")
    assert [d.domain for d in initech.domains.all()] == ["initech.example"]
    assert [p.number for p in initech.phones.all()] == ["+15555550199"]
    assert initech.account_number.isdigit()


def test_the_lock_out_log_is_read_only_in_the_admin(admin_client, alice):
    for _ in range(5):
        Client().post("/accounts/login/", {"username": alice.email, "password": "x"})
    page = admin_client.get("/admin/accounts/lockoutevent/")
    assert alice.email in page.content.decode()
    assert admin_client.get("/admin/accounts/lockoutevent/add/").status_code == 403
