"""The demo status page: components, a resolved incident, an open one, upcoming maintenance."""

from __future__ import annotations

import pytest
from django.test import Client

from casedesk.core.demo import load_demo
from casedesk.status.models import Component, Incident

pytestmark = pytest.mark.django_db


def test_the_demo_has_components_a_resolved_and_an_open_incident_and_upcoming_maintenance():
    created = load_demo()
    assert "status components" in created
    assert Component.objects.filter(group__isnull=False).count() == 6
    assert Incident.objects.filter(kind="incident", status="resolved").count() == 1
    assert Incident.objects.filter(kind="incident", status="identified").count() == 1
    assert Incident.objects.filter(kind="maintenance", status="scheduled").count() == 1
    summary = Client().get("/status/api/v2/summary.json").json()
    assert summary["status"]["indicator"] == "minor"
    assert [i["name"] for i in summary["incidents"]] == ["Delays in email intake"]
    assert Client().get("/status/").status_code == 200


def test_running_the_demo_again_adds_nothing():
    load_demo()
    before = (Component.objects.count(), Incident.objects.count())
    assert load_demo() == []
    assert (Component.objects.count(), Incident.objects.count()) == before
