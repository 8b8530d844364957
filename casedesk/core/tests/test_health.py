"""/health/ tells a load balancer whether the desk can work, and shows stalled workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import requeue_abandoned_tasks

pytestmark = pytest.mark.django_db


def test_health_reports_the_database_and_an_empty_queue(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["database"] == "ok"
    assert body["tasks"] == {"ready": 0, "oldest_ready_seconds": None}


def test_health_shows_how_long_the_oldest_task_has_waited(client):
    requeue_abandoned_tasks.enqueue()
    body = client.get("/health/").json()
    assert body["tasks"]["ready"] == 1
    assert body["tasks"]["oldest_ready_seconds"] >= 0


def test_health_flags_a_worker_that_stopped_beating(client):
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="fresh", started_at=now, seen_at=now)
    WorkerHeartbeat.objects.create(
        worker_id="gone", started_at=now, seen_at=now - timedelta(minutes=10)
    )
    workers = {w["worker"]: w["stale"] for w in client.get("/health/").json()["workers"]}
    assert workers == {"fresh": False, "gone": True}


def test_health_refuses_to_change_state(client):
    assert client.post("/health/").status_code == 405
