"""/health/ tells a load balancer whether the desk can work, and shows stalled workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import requeue_abandoned_tasks

# /health/ works on a connection of its own (casedesk.core.deadline): it sees
# committed rows only, and must be able to take the write lock.
pytestmark = pytest.mark.django_db(transaction=True)


def test_health_reports_the_database_and_an_empty_queue(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["database"] == "ok"
    assert body["tasks"] == {"ready": 0, "oldest_ready_seconds": None}
    assert body["workers"] == {"alive": 0, "stale": 0}


def test_health_shows_how_long_the_oldest_task_has_waited(client):
    requeue_abandoned_tasks.enqueue()
    body = client.get("/health/").json()
    assert body["tasks"]["ready"] == 1
    assert body["tasks"]["oldest_ready_seconds"] >= 0


def two_workers_one_gone():
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="host-a:12:fresh", started_at=now, seen_at=now)
    WorkerHeartbeat.objects.create(
        worker_id="host-b:34:gone", started_at=now, seen_at=now - timedelta(minutes=10)
    )


def test_health_counts_live_and_stale_workers_without_naming_them(client):
    two_workers_one_gone()
    body = client.get("/health/").json()
    assert body["workers"] == {"alive": 1, "stale": 1}
    assert "worker_details" not in body
    assert "host-a" not in client.get("/health/").content.decode()


def test_staff_see_which_worker_stopped_beating(admin_client):
    two_workers_one_gone()
    details = admin_client.get("/health/").json()["worker_details"]
    assert {w["worker"]: w["stale"] for w in details} == {
        "host-a:12:fresh": False,
        "host-b:34:gone": True,
    }


def test_health_refuses_to_change_state(client):
    assert client.post("/health/").status_code == 405


def test_health_is_unhealthy_while_the_database_cannot_take_a_write(client, settings):
    """A write lock held elsewhere (a stuck process, a migration): 503 with the reason,
    within the deadline, not 200 from a database that only answers reads, and not a hang."""
    from django_tasks_db.models import DBTaskResult

    from casedesk.core.tests.dblock import holding_write_lock

    settings.HEALTH_DB_SECONDS = 1
    with holding_write_lock(DBTaskResult._meta.db_table):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["database"] == "error"
    assert body["reason"] == "the database did not take a write within 1 s"
    # The lock is gone: healthy again.
    assert client.get("/health/").status_code == 200
