"""/accounts/tokens/: anyone makes their own tokens (shown once), sees when each was last
used, and revokes their own; never someone else's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from casedesk.api import services
from casedesk.api.models import ApiToken

pytestmark = pytest.mark.django_db


def logged_in(person: Any) -> Client:
    client = Client()
    client.force_login(person)
    return client


def test_a_customer_makes_a_token_and_sees_it_only_once(alice: Any) -> None:
    client = logged_in(alice)
    page = client.get("/accounts/tokens/").content.decode()
    assert "Cases: read" in page and "On call" not in page  # only what a customer may have
    response = client.post(
        "/accounts/tokens/", {"name": "My script", "scopes": ["cases:read"], "expires": "30d"}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    [token] = re.findall(r'value="(cd_[0-9a-f]{8}_[A-Za-z0-9_-]{43})"', html)
    assert services.authenticate(token).person == alice  # type: ignore[union-attr]
    again = client.get("/accounts/tokens/").content.decode()
    assert token not in again and token[:11] in again and "My script" in again


def test_a_bad_form_says_what_to_fix_and_makes_nothing(alice: Any) -> None:
    client = logged_in(alice)
    response = client.post(
        "/accounts/tokens/", {"name": "", "scopes": ["oncall:write"], "expires": "5y"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and "Select a valid choice" in html
    assert not ApiToken.objects.exists()


def test_a_person_revokes_their_own_token_and_no_one_elses(alice: Any, bob: Any) -> None:
    row, token = services.create(services.NewToken(alice, "script", ["cases:read"]))
    assert logged_in(bob).post(f"/accounts/tokens/{row.pk}/revoke/").status_code == 404
    assert services.authenticate(token) is not None
    response = logged_in(alice).post(f"/accounts/tokens/{row.pk}/revoke/", follow=True)
    assert "is revoked" in response.content.decode()
    assert services.authenticate(token) is None


def test_revoking_needs_a_post_with_the_csrf_token(alice: Any) -> None:
    row, _token = services.create(services.NewToken(alice, "script", ["cases:read"]))
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/accounts/tokens/{row.pk}/revoke/").status_code == 403
    assert client.get(f"/accounts/tokens/{row.pk}/revoke/").status_code == 405
    row.refresh_from_db()
    assert row.revoked_at is None


def test_the_token_pages_need_a_log_in(client: Client) -> None:
    assert client.get("/accounts/tokens/")["Location"].startswith("/accounts/login/")


def test_the_account_page_links_to_the_tokens(alice: Any) -> None:
    assert 'href="/accounts/tokens/"' in logged_in(alice).get("/accounts/").content.decode()


def test_an_admin_revokes_anyones_token_in_the_admin_and_never_sees_a_digest(
    alice: Any, admin: Any
) -> None:
    row, token = services.create(services.NewToken(alice, "script", ["cases:read"]))
    client = logged_in(admin)
    listing = client.get("/admin/api/apitoken/").content.decode()
    assert row.prefix in listing and row.digest not in listing
    assert row.digest not in client.get(f"/admin/api/apitoken/{row.pk}/change/").content.decode()
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.revoked_by == admin and services.authenticate(token) is None
    assert client.get("/admin/api/apitoken/add/").status_code == 403
