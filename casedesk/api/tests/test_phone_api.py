"""/api/v1/calls/ and /api/v1/fees/: the emergency line's log and fees, for staff."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from casedesk.api import services
from casedesk.phone.models import Call, Fee

pytestmark = pytest.mark.django_db


def api(person: Any, scopes: list[str]) -> Client:
    _row, token = services.create(services.NewToken(person, "test", scopes))
    return Client(headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def demo(calendars: None, help_articles: None, settings: Any) -> None:
    settings.PHONE_FEE = Decimal("150.00")
    call_command("demo", "--force", verbosity=0)


def test_staff_read_the_call_log_with_legs_and_the_fees(demo: None) -> None:
    from casedesk.accounts.models import User

    client = api(User.objects.get(email="agent@example.com"), ["phone:read"])
    calls = client.get("/api/v1/calls/").json()["results"]
    assert len(calls) == Call.objects.count() == 4
    connected = next(
        c
        for c in calls
        if c["outcome"] == "connected"
        and c["legs"][-1]["outcome"] == "accepted"
        and len(c["legs"]) == 2
    )
    assert connected["caller"] == "alice@acme.example" and connected["answered_at"]
    one = client.get(f"/api/v1/calls/{connected['id']}/").json()
    assert one["legs"][1]["engineer"] == "agent2@example.com"
    fees = client.get("/api/v1/fees/").json()["results"]
    assert [(f["organization"], f["amount"]) for f in fees] == [("Acme", "150.00")]
    assert client.get(f"/api/v1/fees/{Fee.objects.get().pk}/").status_code == 200
    acme = Call.objects.filter(organization__name="Acme").first()
    assert acme is not None
    only = client.get(f"/api/v1/calls/?organization={acme.organization_id}").json()["results"]
    assert {c["organization"] for c in only} == {"Acme"}
    assert client.get("/api/v1/calls/?since=monday").status_code == 400
    assert client.get("/api/v1/calls/nope/").status_code == 404


def test_a_customer_cannot_read_the_call_log(demo: None) -> None:
    from casedesk.accounts.models import User

    alice = User.objects.get(email="alice@acme.example")
    with pytest.raises(services.TokenError):
        api(alice, ["phone:read"])
    assert api(alice, ["cases:read"]).get("/api/v1/calls/").status_code == 403
