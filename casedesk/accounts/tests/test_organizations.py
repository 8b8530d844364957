"""Organizations, people and roles; who may see which organization."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404
from hypothesis import given
from hypothesis import strategies as st

from casedesk.accounts import services
from casedesk.accounts.models import (
    Organization,
    OrganizationDomain,
    OrganizationPhone,
    User,
    normalize_phone,
)

pytestmark = pytest.mark.django_db


def test_people_log_in_with_their_email_address_in_any_case(client, alice):
    response = client.post(
        "/accounts/login/",
        {"username": "  ALICE@Acme.Example ", "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_addresses_are_stored_in_one_spelling_and_are_unique(acme):
    User.objects.create_user("Carol@Acme.example", "x-long-password-1", organization=acme)
    assert User.objects.filter(email="carol@acme.example").exists()
    with pytest.raises((IntegrityError, ValidationError)):
        User.objects.create_user("CAROL@acme.example", "x-long-password-1", organization=acme)


def test_a_customer_needs_an_organization_and_staff_have_none(acme):
    with pytest.raises(ValidationError, match="belongs to one organization"):
        User.objects.create_user("dan@acme.example", "x-long-password-1", role="customer")
    with pytest.raises(ValidationError, match="leave this empty"):
        User.objects.create_user(
            "eve@example.com", "x-long-password-1", role="agent", organization=acme
        )


def test_the_database_refuses_a_customer_without_an_organization(acme):
    person = User.objects.create_user("dan@acme.example", "x-long-password-1", organization=acme)
    with pytest.raises(IntegrityError):
        User.objects.filter(pk=person.pk).update(organization=None)


def test_only_admins_reach_the_admin_site(alice, agent, admin_user):
    assert admin_user.is_staff and admin_user.is_superuser
    assert not agent.is_staff and not agent.is_superuser
    assert not alice.is_staff
    assert agent.is_vendor_staff and admin_user.is_vendor_staff and not alice.is_vendor_staff


def test_a_person_created_without_a_password_cannot_log_in_until_invited(acme):
    person = User.objects.create_user("new@acme.example", organization=acme)
    assert not person.has_usable_password()


def test_an_organization_gets_a_keypad_account_number_when_left_blank():
    organization = Organization.objects.create(name="Initech")
    assert organization.account_number.isdigit() and len(organization.account_number) == 8
    other = Organization.objects.create(name="Umbrella")
    assert other.account_number != organization.account_number


@pytest.mark.parametrize("bad", ["12 34", "abc12345", "12345", "1" * 13])
def test_an_account_number_is_6_to_12_digits(bad):
    with pytest.raises(ValidationError, match="6 to 12 digits"):
        Organization(name="Initech", account_number=bad).full_clean()


def test_domains_and_phone_numbers_are_normalised_and_checked(acme):
    domain = OrganizationDomain(organization=acme, domain=" @Mail.ACME.example ")
    domain.full_clean()
    domain.save()
    assert domain.domain == "mail.acme.example"
    phone = OrganizationPhone(organization=acme, number="+1 (555) 555-0101")
    phone.full_clean()
    phone.save()
    assert phone.number == "+15555550101"
    for bad in ("http://acme.example", "acme", "ac me.example"):
        with pytest.raises(ValidationError, match="domain name"):
            OrganizationDomain(organization=acme, domain=bad).full_clean()
    for bad in ("555-0101", "+0123456789", "call me", "+1" + "5" * 20):
        with pytest.raises(ValidationError, match="international form"):
            OrganizationPhone(organization=acme, number=bad).full_clean()


@given(st.text(max_size=40))
def test_normalising_any_phone_text_never_raises_and_is_idempotent(text):
    once = normalize_phone(text)
    assert normalize_phone(once) == once


def test_an_organization_is_found_by_email_phone_or_account_number(acme, globex, alice):
    OrganizationPhone.objects.create(organization=acme, number="+15555550101")
    assert services.organization_for_email("Alice@acme.example") == acme
    assert services.organization_for_email("someone-new@globex.example") == globex
    assert services.organization_for_email("stranger@example.net") is None
    assert services.organization_for_phone("+1 555 555 0101") == acme
    assert services.organization_for_phone("+15555550199") is None
    assert services.organization_for_account_number("1004-2002#") == globex
    assert services.organization_for_account_number("") is None
    assert services.organization_for_account_number("*#") is None


def test_a_person_email_outranks_their_domain(acme, globex):
    """A Globex contractor with an acme.example address still belongs to Globex."""
    User.objects.create_user("contractor@acme.example", "x-long-password-1", organization=globex)
    assert services.organization_for_email("contractor@acme.example") == globex


def test_customers_see_only_their_own_organization(alice, bob, acme, globex):
    assert list(services.organizations_visible_to(alice)) == [acme]
    assert list(services.organizations_visible_to(bob)) == [globex]
    assert services.organization_for_user(alice, acme.pk) == acme
    with pytest.raises(Http404):
        services.organization_for_user(alice, globex.pk)
    with pytest.raises(Http404):
        services.organization_for_user(bob, acme.pk)


def test_staff_see_every_organization_and_customers_no_one_elses_people(
    alice, bob, agent, admin_user, acme, globex
):
    assert set(services.organizations_visible_to(agent)) == {acme, globex}
    assert set(services.organizations_visible_to(admin_user)) == {acme, globex}
    assert set(services.customers_visible_to(agent)) == {alice, bob}
    assert list(services.customers_visible_to(alice)) == []


def test_anonymous_and_deactivated_people_see_nothing(alice, acme):
    from django.contrib.auth.models import AnonymousUser

    assert list(services.organizations_visible_to(AnonymousUser())) == []
    alice.is_active = False
    alice.save()
    assert list(services.organizations_visible_to(alice)) == []


def test_an_organization_with_people_cannot_be_deleted(alice, acme):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        acme.delete()


def test_the_account_page_shows_your_organization_and_not_others(client, alice, bob):
    client.force_login(alice)
    page = client.get("/accounts/").content.decode()
    assert "Acme" in page and "10042001" in page
    assert "Globex" not in page


def test_account_pages_need_a_log_in(client):
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_admin_log_in_page_sends_people_to_the_one_log_in_page(client, alice, admin_user):
    response = client.get("/admin/login/?next=/admin/hours/")
    assert response["Location"] == "/accounts/login/?next=/admin/hours/"
    client.force_login(alice)
    assert client.get("/admin/", follow=True).status_code == 403  # no redirect loop
    client.force_login(admin_user)
    assert client.get("/admin/login/?next=/admin/hours/")["Location"] == "/admin/hours/"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/admin/"


def test_an_agent_opening_the_admin_is_told_it_is_for_admins(client, agent):
    client.force_login(agent)
    page = client.get("/admin/", follow=True)
    assert page.status_code == 403
    assert "This page is for admins." in page.content.decode()
    assert "support staff" not in page.content.decode()


def test_who_may_manage_which_log_ins(alice, bob, agent, admin_user):
    emails = [alice.email, bob.email, agent.email, "nobody@example.net"]
    assert services.addresses_managed_by(admin_user, emails) == set(emails)
    assert services.addresses_managed_by(agent, emails) == {alice.email, bob.email}
    assert services.addresses_managed_by(alice, emails) == set()
