"""`casedesk demo`: the vendor's staff and two client organizations, all with one password."""

from __future__ import annotations

import pytest
from django.test import Client

from casedesk.accounts import services
from casedesk.accounts.models import Organization, User
from casedesk.core.demo import DEMO_PASSWORD, existing_demo_logins, load_demo

pytestmark = pytest.mark.django_db


def test_demo_data_has_staff_and_two_client_organizations():
    load_demo()
    roles = dict(User.objects.values_list("email", "role"))
    assert roles == {
        "admin@example.com": "admin",
        "agent@example.com": "agent",
        "agent2@example.com": "agent",
        "alice@acme.example": "customer",
        "bob@globex.example": "customer",
    }
    acme = Organization.objects.get(name="Acme")
    assert User.objects.get(email="alice@acme.example").organization == acme
    assert services.organization_for_phone("+15555550101") == acme
    assert services.organization_for_email("someone@globex.example") == Organization.objects.get(
        name="Globex"
    )


def test_every_demo_login_works_with_the_demo_password():
    load_demo()
    for login in existing_demo_logins():
        response = Client().post(
            "/accounts/login/", {"username": login.email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, login.email
    assert len(existing_demo_logins()) == 5


def test_demo_data_never_overwrites_what_an_admin_changed():
    load_demo()
    alice = User.objects.get(email="alice@acme.example")
    alice.set_password("changed-by-alice-1")
    alice.save()
    assert load_demo() == []
    alice.refresh_from_db()
    assert alice.check_password("changed-by-alice-1")
    assert "alice@acme.example" not in [login.email for login in existing_demo_logins()]
