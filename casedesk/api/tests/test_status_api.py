"""/api/v1/status/: incidents, updates and maintenance from scripts, with the desk's rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from casedesk.api import services
from casedesk.api.tests.conftest import fields
from casedesk.status.models import Component, Incident

pytestmark = pytest.mark.django_db


def api(person: Any, scopes: list[str]) -> Client:
    _row, token = services.create(services.NewToken(person, "test", scopes))
    return Client(headers={"authorization": f"Bearer {token}"})


def post(client: Client, path: str, data: Any) -> Any:
    return client.post(path, data, content_type="application/json")


def test_an_agent_opens_an_incident_that_sets_components_and_updates_it(
    agent: Any, components: dict[str, Component]
) -> None:
    client = api(agent, ["status:read", "status:write"])
    web = components["web"].public_id
    made = post(
        client,
        "/api/v1/status/incidents/",
        {
            "name": "Logins fail",
            "impact": "major",
            "body": "Looking.",
            "components": {web: "major_outage"},
        },
    )
    assert made.status_code == 201, made.content
    incident = made.json()
    assert incident["status"] == "investigating" and incident["impact"] == "major"
    components["web"].refresh_from_db()
    assert components["web"].status == "major_outage"
    resolved = post(
        client,
        f"/api/v1/status/{incident['id']}/updates/",
        {"status": "resolved", "body": "Fixed.", "components": {web: "operational"}},
    )
    assert resolved.status_code == 201 and resolved.json()["status"] == "resolved"
    assert resolved.json()["incident_updates"][0]["status"] == "resolved"
    assert client.get(f"/api/v1/status/{incident['id']}/").json()["id"] == incident["id"]


def test_maintenance_is_scheduled_with_its_window(
    agent: Any, components: dict[str, Component]
) -> None:
    client = api(agent, ["status:write"])
    made = post(
        client,
        "/api/v1/status/maintenance/",
        {
            "name": "Database upgrade",
            "body": "Read-only for ten minutes.",
            "components": [components["api"].public_id],
            "scheduled_for": "2027-01-09T04:00:00Z",
            "scheduled_until": "2027-01-09T05:00:00Z",
        },
    )
    assert made.status_code == 201, made.content
    assert made.json()["scheduled_for"].startswith("2027-01-09T04:00")
    assert Incident.objects.get().is_maintenance


def test_bad_status_requests_say_what_to_fix_and_change_nothing(
    agent: Any, components: dict[str, Component]
) -> None:
    client = api(agent, ["status:write"])
    bad = post(
        client,
        "/api/v1/status/incidents/",
        {"name": "", "body": "x", "components": {"nope": "major_outage"}},
    )
    assert "name" in fields(bad)
    unknown = post(
        client,
        "/api/v1/status/incidents/",
        {"name": "X", "body": "x", "components": {"nope": "major_outage"}},
    )
    assert "No component has the id 'nope'." in fields(unknown)["components"]
    wrong = post(
        client, "/api/v1/status/incidents/", {"name": "X", "body": "x", "status": "scheduled"}
    )
    assert fields(wrong)
    assert not Incident.objects.exists()


def test_a_customer_reads_components_but_cannot_write(
    alice: Any, components: dict[str, Component]
) -> None:
    client = api(alice, ["status:read"])
    listed = client.get("/api/v1/status/components/").json()
    assert {c["name"] for c in listed} >= {"Web app", "API"}
    refused = post(client, "/api/v1/status/incidents/", {"name": "X", "body": "x"})
    assert refused.status_code == 403
