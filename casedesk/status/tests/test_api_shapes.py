"""The Statuspage v2 documents, compared key by key with real samples (../shared/corpora)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from django.test import Client

from casedesk.status.models import Incident

SAMPLES = "statuspage"


def kind_of(value):
    if value is None:
        return None
    return type(value).__name__


def collect(document, shapes):
    """Key sets and value types per kind of object, from one summary-like document."""

    def add(kind, obj):
        entry = shapes.setdefault(kind, {})
        for key, value in obj.items():
            entry.setdefault(key, set()).add(kind_of(value))

    if "page" in document:
        add("page", document["page"])
    if "status" in document:
        add("status", document["status"])
    for component in document.get("components", []):
        add("group" if component.get("group") else "component", component)
    for listing, kind in (("incidents", "incident"), ("scheduled_maintenances", "maintenance")):
        for incident in document.get(listing, []):
            add(kind, incident)
            for component in incident.get("components", []):
                add("component", component)
            for update in incident.get("incident_updates", []):
                add("update", update)
                for affected in update.get("affected_components") or []:
                    add("affected", affected)
    return shapes


@pytest.fixture
def samples(corpora: Path):
    folder = corpora / SAMPLES
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.skip(f"no Statuspage samples in {folder}")
    shapes: dict[str, dict[str, set[str | None]]] = {}
    for path in files:
        collect(json.loads(path.read_text()), shapes)
    return shapes


def get(client, name):
    response = client.get(f"/status/api/v2/{name}.json")
    assert response.status_code == 200, name
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_summary_has_every_key_of_the_samples_with_the_same_types(busy_page, samples):
    ours = collect(get(Client(), "summary"), {})
    for kind in ("page", "status", "component", "incident", "maintenance", "update", "affected"):
        assert kind in ours, f"our summary has no {kind}"
        missing = set(samples[kind]) - set(ours[kind])
        assert not missing, f"{kind} lacks {sorted(missing)}"
        for key, types in samples[kind].items():
            theirs, mine = types - {None}, ours[kind][key] - {None}
            if theirs and mine:
                assert mine <= theirs, f"{kind}.{key}: ours {mine}, samples {theirs}"


def test_we_add_no_keys_the_samples_do_not_have(busy_page, samples):
    ours = collect(get(Client(), "summary"), {})
    for kind in ("page", "status", "component", "incident", "update", "affected"):
        extra = set(ours[kind]) - set(samples[kind])
        assert not extra, f"{kind} has keys no sample has: {sorted(extra)}"
    # A group is a component with the ids of its members.
    assert set(ours["group"]) == set(samples["component"]) | {"components"}


def test_every_document_answers_with_its_list(busy_page):
    client = Client()
    lists = {
        "summary": ["components", "incidents", "scheduled_maintenances", "status"],
        "status": ["status"],
        "components": ["components"],
        "incidents": ["incidents"],
        "incidents/unresolved": ["incidents"],
        "scheduled-maintenances": ["scheduled_maintenances"],
        "scheduled-maintenances/upcoming": ["scheduled_maintenances"],
        "scheduled-maintenances/active": ["scheduled_maintenances"],
    }
    for name, keys in lists.items():
        body = get(client, name)
        assert set(body) == {"page", *keys}, name
    assert [i["name"] for i in get(client, "incidents/unresolved")["incidents"]] == ["Slow API"]
    assert {i["name"] for i in get(client, "incidents")["incidents"]} == {
        "Slow API",
        "Mail delayed",
    }
    assert [
        m["name"] for m in get(client, "scheduled-maintenances/upcoming")["scheduled_maintenances"]
    ] == ["Database upgrade"]
    assert [
        m["name"] for m in get(client, "scheduled-maintenances/active")["scheduled_maintenances"]
    ] == ["Portal restart"]
    summary = get(client, "summary")
    assert {m["name"] for m in summary["scheduled_maintenances"]} == {
        "Database upgrade",
        "Portal restart",
    }
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}


def test_times_carry_an_offset_ids_are_opaque_and_empty_values_are_null(busy_page, components):
    summary = get(Client(), "summary")
    incident = summary["incidents"][0]
    for key in ("created_at", "updated_at", "started_at"):
        parsed = datetime.fromisoformat(incident[key])
        assert parsed.utcoffset() is not None
    assert incident["resolved_at"] is None
    assert incident["monitoring_at"] is None
    assert len(incident["id"]) == 12 and incident["id"].isalnum()
    assert str(Incident.objects.get(name="Slow API").pk) != incident["id"]
    # Updates newest first, each naming the components it changed.
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["incident_updates"][0]["affected_components"] == [
        {
            "code": components["web"].public_id,
            "name": "Web app",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]
    email = next(c for c in summary["components"] if c["name"] == "Email")
    assert email["description"] == "Inbound mail" and email["group_id"] is None
    api = next(c for c in summary["components"] if c["name"] == "API")
    assert api["description"] is None


def test_components_list_each_group_before_its_members(components):
    body = get(Client(), "components")
    assert [(c["name"], c["group"]) for c in body["components"]] == [
        ("Product", True),
        ("Web app", False),
        ("API", False),
        ("Support", True),
        ("Portal", False),
        ("Email", False),
    ]
    product = body["components"][0]
    assert product["components"] == [components["web"].public_id, components["api"].public_id]


def test_anyone_may_read_it_from_any_origin_with_an_etag_and_a_short_lifetime(components):
    response = Client().get("/status/api/v2/summary.json", HTTP_ORIGIN="https://other.example")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=10"
    etag = response["ETag"]
    again = Client().get("/status/api/v2/summary.json", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_a_change_gives_a_new_etag_and_a_fresh_document(components, incident):
    first = Client().get("/status/api/v2/summary.json")
    incident("Logins fail", web="major_outage")
    second = Client().get("/status/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert second.json()["incidents"][0]["name"] == "Logins fail"


def test_an_admin_edit_of_a_component_also_refreshes_the_cache(components):
    first = Client().get("/status/api/v2/components.json")
    components["api"].name = "Public API"
    components["api"].save()
    second = Client().get("/status/api/v2/components.json")
    assert second["ETag"] != first["ETag"]
    assert "Public API" in second.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/status/api/v2/nothing.json",
        "/status/api/v2/../summary.json",
        "/status/api/v2/incidents/unresolved/x.json",
        "/status/api/v2/SUMMARY.json",
        "/status/api/v2/summary.json%00",
    ],
)
def test_unknown_documents_are_404(components, path):
    assert Client().get(path).status_code == 404


def test_garbage_if_none_match_headers_are_ignored(components):
    for header in ["", "*garbage", 'W/"x", "y"', "\x00\xff", "," * 1000]:
        response = Client().get("/status/api/v2/status.json", HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 200
    assert Client().get("/status/api/v2/status.json", HTTP_IF_NONE_MATCH="*").status_code == 304


def test_the_api_is_read_only(components):
    assert Client().post("/status/api/v2/summary.json").status_code == 405


def test_the_pages_updated_at_moves_with_each_change(components, incident):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    client = Client()
    before = client.get("/status/api/v2/status.json").json()["page"]["updated_at"]
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later):
        incident("Logins fail", web="major_outage")
        after = client.get("/status/api/v2/status.json").json()["page"]["updated_at"]
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before)
    assert abs(datetime.fromisoformat(after) - later) < timedelta(seconds=5)


def test_scheduled_maintenances_json_lists_the_50_latest_like_incidents_json(components):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    Incident.objects.bulk_create(
        Incident(
            kind="maintenance",
            name=f"Window {n}",
            status="completed",
            impact="maintenance",
            created_at=now,
            updated_at=now,
            started_at=now - timedelta(days=n),
            scheduled_for=now - timedelta(days=n),
            scheduled_until=now - timedelta(days=n) + timedelta(hours=1),
        )
        for n in range(1, 56)
    )
    listed = get(Client(), "scheduled-maintenances")["scheduled_maintenances"]
    assert len(listed) == 50
    assert [m["name"] for m in listed[:2]] == ["Window 1", "Window 2"]


def test_a_scheduled_maintenance_started_at_is_when_it_was_posted_as_in_the_sample(
    components, agent, corpora
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from casedesk.status import services

    documents = [json.loads(p.read_text()) for p in sorted((corpora / SAMPLES).glob("*.json"))]
    found = [
        m
        for document in documents
        if isinstance(document, dict)
        for m in document.get("scheduled_maintenances", [])
        if m["status"] == "scheduled"
    ]
    if not found:
        pytest.skip("no scheduled maintenance in the Statuspage samples")
    sample = found[0]
    posted = datetime.fromisoformat(sample["started_at"])
    assert abs(posted - datetime.fromisoformat(sample["created_at"])) < timedelta(seconds=1)
    assert datetime.fromisoformat(sample["scheduled_for"]) - posted > timedelta(days=1)

    soon = timezone.now() + timedelta(days=2)
    made = services.create_maintenance(
        services.NewMaintenance("DB", "b", [components["api"]], soon, soon + timedelta(hours=1)),
        agent,
    )
    ours = get(Client(), "scheduled-maintenances/upcoming")["scheduled_maintenances"][0]
    assert ours["started_at"] == ours["created_at"]
    assert ours["scheduled_for"] != ours["started_at"]
    begin = (soon + timedelta(minutes=2)).replace(microsecond=0)
    with time_machine.travel(begin, tick=False):
        services.post_update(made, services.Posting("in_progress", "Started."), agent)
        ours = get(Client(), "scheduled-maintenances/active")["scheduled_maintenances"][0]
    assert datetime.fromisoformat(ours["started_at"]) == begin


def test_a_cross_origin_preflight_is_answered_and_the_etag_is_readable(components):
    client = Client()
    preflight = client.options(
        "/status/api/v2/summary.json",
        HTTP_ORIGIN="https://other.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in preflight["Access-Control-Allow-Headers"].split(",")}
    assert "if-none-match" in allowed
    assert preflight.content == b""
    response = client.get("/status/api/v2/summary.json", HTTP_ORIGIN="https://other.example")
    assert response["Access-Control-Expose-Headers"] == "ETag"
    again = client.get("/status/api/v2/summary.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["Access-Control-Expose-Headers"] == "ETag"
    assert client.options("/status/api/v2/nonsense.json").status_code == 404
    assert client.options("/status/").status_code == 405  # only the API takes OPTIONS
