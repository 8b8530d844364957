"""A task whose worker died while running it goes back in the queue; one whose
worker is alive, or that started moments ago, is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import requeue_abandoned_tasks

pytestmark = pytest.mark.django_db


def running_task(worker_id, started_minutes_ago):
    result = requeue_abandoned_tasks.enqueue()
    row = DBTaskResult.objects.get(id=result.id)
    row.claim(worker_id)
    DBTaskResult.objects.filter(id=row.id).update(
        started_at=timezone.now() - timedelta(minutes=started_minutes_ago)
    )
    return row


def beat(worker_id: str, minutes_ago: int) -> None:
    seen = timezone.now() - timedelta(minutes=minutes_ago)
    WorkerHeartbeat.objects.create(worker_id=worker_id, started_at=seen, seen_at=seen)


def status(row):
    row.refresh_from_db()
    return row.status


def test_a_task_held_by_a_worker_that_stopped_beating_is_requeued():
    beat("dead-worker", minutes_ago=10)
    row = running_task("dead-worker", started_minutes_ago=10)
    assert requeue_abandoned_tasks.call() == 1
    assert status(row) == "READY"
    assert row.started_at is None


def test_a_task_held_by_a_worker_that_never_beat_is_requeued():
    row = running_task("unknown-worker", started_minutes_ago=5)
    assert requeue_abandoned_tasks.call() == 1
    assert status(row) == "READY"


def test_a_long_task_of_a_living_worker_within_its_budget_is_left_running(settings):
    settings.CRITICAL_TASK_BUDGET_SECONDS = 3600  # the sweep's own queue
    beat("busy-worker", minutes_ago=0)
    row = running_task("busy-worker", started_minutes_ago=30)
    assert requeue_abandoned_tasks.call() == 0
    assert status(row) == "RUNNING"


def test_a_task_running_past_its_budget_is_requeued_even_if_its_worker_beats(settings):
    """The database blip of issue 16: the worker lived on, beating, and never released
    the task it held; it stayed RUNNING until the worker was restarted."""
    settings.CRITICAL_TASK_BUDGET_SECONDS = 60
    beat("blipped-worker", minutes_ago=0)
    row = running_task("blipped-worker", started_minutes_ago=3)  # 60 s budget + 1 min grace
    assert requeue_abandoned_tasks.call() == 1
    assert status(row) == "READY"


def test_a_task_just_past_its_budget_is_left_to_its_worker_for_a_grace_minute(settings):
    settings.CRITICAL_TASK_BUDGET_SECONDS = 60
    beat("busy-worker", minutes_ago=0)
    row = running_task("busy-worker", started_minutes_ago=1.5)
    assert requeue_abandoned_tasks.call() == 0
    assert status(row) == "RUNNING"


def test_a_task_that_just_started_is_left_running_whoever_holds_it():
    row = running_task("quiet-worker", started_minutes_ago=1)
    assert requeue_abandoned_tasks.call() == 0
    assert status(row) == "RUNNING"


def test_heartbeats_of_workers_long_gone_are_deleted():
    beat("gone-yesterday", minutes_ago=60 * 25)
    beat("here", minutes_ago=0)
    requeue_abandoned_tasks.call()
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["here"]
