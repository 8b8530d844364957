"""The task worker runs queued tasks from the database, and periodic sweeps are
claimed by exactly one worker per due run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.core import periodic
from casedesk.core.models import PeriodicSchedule, WorkerHeartbeat
from casedesk.core.tasks import heartbeat
from casedesk.core.worker import CasedeskWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_queued_task_is_stored_in_the_database_until_a_worker_runs_it():
    result = heartbeat.enqueue()
    stored = DBTaskResult.objects.get(id=result.id)
    assert stored.status == "READY"
    assert not WorkerHeartbeat.objects.exists()

    CasedeskWorker(batch=True, interval=0).run_forever()

    stored.refresh_from_db()
    assert stored.status == "SUCCESSFUL"
    assert WorkerHeartbeat.objects.count() == 1


def test_the_worker_command_in_batch_mode_drains_the_queue_and_exits():
    for _ in range(3):
        heartbeat.enqueue()
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_a_task_scheduled_for_later_waits_for_its_instant():
    later = heartbeat.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()
    CasedeskWorker(batch=True, interval=0).run_forever()
    assert DBTaskResult.objects.get(id=later.id).status == "READY"


def test_the_heartbeat_is_registered_as_a_periodic_task():
    assert "casedesk.core.tasks.heartbeat" in periodic.registered()


def test_a_due_periodic_task_is_enqueued_once_however_many_workers_ask():
    now = timezone.now()
    first = periodic.enqueue_due(now)
    second = periodic.enqueue_due(now)
    assert "casedesk.core.tasks.heartbeat" in first
    assert "casedesk.core.tasks.heartbeat" not in second
    assert DBTaskResult.objects.filter(task_path="casedesk.core.tasks.heartbeat").count() == 1


def test_a_periodic_task_is_enqueued_again_after_its_interval():
    now = timezone.now()
    periodic.enqueue_due(now)
    row = PeriodicSchedule.objects.get(name="casedesk.core.tasks.heartbeat")
    assert row.next_run_at == now + timedelta(minutes=1)
    assert "casedesk.core.tasks.heartbeat" not in periodic.enqueue_due(now + timedelta(seconds=59))
    assert "casedesk.core.tasks.heartbeat" in periodic.enqueue_due(now + timedelta(minutes=1))


def test_a_periodic_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive interval"):
        periodic.periodic(every=timedelta(0))
