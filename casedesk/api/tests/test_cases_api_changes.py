"""Changing cases through the API: the same services and rules as the portal and desk."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from casedesk.api import services
from casedesk.api.tests.conftest import fields
from casedesk.cases.models import Event, EventKind

pytestmark = pytest.mark.django_db

WRITE = ("cases:read", "cases:write")


def api(person: Any, scopes: tuple[str, ...] = WRITE) -> Client:
    _row, token = services.create(services.NewToken(person, "test", list(scopes)))
    return Client(headers={"authorization": f"Bearer {token}"})


def post(client: Client, path: str, data: Any) -> Any:
    return client.post(path, data, content_type="application/json")


@pytest.fixture
def case(open_case: Any, alice: Any) -> Any:
    return open_case(alice, "Medium", subject="Exports fail")


def test_an_agents_reply_stops_the_first_response_clock_and_can_set_the_status(
    agent: Any, case: Any
) -> None:
    response = post(
        api(agent),
        f"/api/v1/cases/{case.reference}/replies/",
        {"body": "Fixed; please try again.", "status": "pending"},
    )
    assert response.status_code == 201 and response.json()["public"] is True
    case.refresh_from_db()
    assert case.first_responded_at is not None and case.status == "pending"


def test_a_customer_replies_on_their_own_case_but_sets_no_status(
    alice: Any, bob: Any, case: Any
) -> None:
    client = api(alice)
    ok = post(client, f"/api/v1/cases/{case.reference}/replies/", {"body": "Still broken."})
    assert ok.status_code == 201
    refused = post(
        client, f"/api/v1/cases/{case.reference}/replies/", {"body": "x", "status": "closed"}
    )
    assert "Customers cannot set the status." in fields(refused)[""]
    other = post(api(bob), f"/api/v1/cases/{case.reference}/replies/", {"body": "Hi"})
    assert other.status_code == 404


def test_notes_status_priority_and_assignment_are_for_staff_only(alice: Any, case: Any) -> None:
    client = api(alice)
    for action, data in [
        ("notes", {"body": "x"}),
        ("status", {"status": "resolved"}),
        ("priority", {"priority": "Low", "reason": "x"}),
        ("assign", {"assignee": None}),
    ]:
        response = post(client, f"/api/v1/cases/{case.reference}/{action}/", data)
        assert response.status_code == 403, action
    assert not Event.objects.filter(case=case, kind=EventKind.NOTE).exists()


def test_an_agent_notes_assigns_and_changes_status(agent: Any, case: Any) -> None:
    client = api(agent)
    note = post(client, f"/api/v1/cases/{case.reference}/notes/", {"body": "Worker stuck."})
    assert note.status_code == 201 and note.json()["public"] is False
    assigned = post(client, f"/api/v1/cases/{case.reference}/assign/", {"assignee": agent.email})
    assert assigned.status_code == 200
    assert assigned.json()["assignee"]["email"] == agent.email
    resolved = post(client, f"/api/v1/cases/{case.reference}/status/", {"status": "resolved"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


def test_a_priority_change_needs_a_reason_and_a_known_priority(agent: Any, case: Any) -> None:
    client = api(agent)
    path = f"/api/v1/cases/{case.reference}/priority/"
    assert "reason" in fields(post(client, path, {"priority": "High"}))
    unknown = fields(post(client, path, {"priority": "Urgent!!", "reason": "x"}))
    assert "No priority is named so" in unknown["priority"][0]
    moved = post(client, path, {"priority": "high", "reason": "Two teams blocked."})
    assert moved.status_code == 200 and moved.json()["priority"] == "High"


def test_moving_a_critical_case_down_is_a_downgrade_the_customer_is_told_of(
    agent: Any, alice: Any, open_case: Any
) -> None:
    critical = open_case(alice, "Critical", subject="Logins fail")
    mail.outbox.clear()
    response = post(
        api(agent),
        f"/api/v1/cases/{critical.reference}/priority/",
        {"priority": "Medium", "reason": "One user only; the rest can log in."},
    )
    assert response.status_code == 200
    assert Event.objects.filter(case=critical, kind=EventKind.DOWNGRADE).exists()


def test_a_read_only_token_cannot_change_anything(agent: Any, case: Any) -> None:
    response = post(
        api(agent, ("cases:read",)), f"/api/v1/cases/{case.reference}/replies/", {"body": "x"}
    )
    assert response.status_code == 403 and "cases:write" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    ["", "not json", "[]", '{"body": 5}', '{"body": ""}', '{"body": "x", "status": "melted"}'],
)
def test_garbage_gets_a_400_that_names_the_field_and_changes_nothing(
    agent: Any, case: Any, body: str
) -> None:
    before = Event.objects.filter(case=case).count()
    response = api(agent).post(
        f"/api/v1/cases/{case.reference}/replies/", body, content_type="application/json"
    )
    problem = response.json()
    assert response.status_code == 400 and problem["status"] == 400 and problem["detail"]
    assert response["Content-Type"] == "application/problem+json"
    assert Event.objects.filter(case=case).count() == before


def test_a_closed_case_takes_no_reply_and_says_so(agent: Any, case: Any) -> None:
    client = api(agent)
    post(client, f"/api/v1/cases/{case.reference}/status/", {"status": "closed"})
    refused = post(client, f"/api/v1/cases/{case.reference}/replies/", {"body": "More?"})
    assert "is closed" in fields(refused)[""][0]
