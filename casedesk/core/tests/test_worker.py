"""The task worker runs queued tasks from the database, beats while it lives, and
periodic sweeps are claimed by exactly one worker per due run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from uuid import UUID

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.core import periodic
from casedesk.core.models import PeriodicSchedule, WorkerHeartbeat
from casedesk.core.tasks import requeue_abandoned_tasks
from casedesk.core.tests.embedded import embedded_environ, run_casedesk
from casedesk.core.worker import CasedeskWorker

pytestmark = pytest.mark.django_db(transaction=True)
SWEEP = "casedesk.core.tasks.requeue_abandoned_tasks"


def test_a_queued_task_is_stored_in_the_database_until_a_worker_runs_it():
    result = requeue_abandoned_tasks.enqueue()
    stored = DBTaskResult.objects.get(id=result.id)
    assert stored.status == "READY"

    CasedeskWorker(batch=True, interval=0).run_forever()

    stored.refresh_from_db()
    assert stored.status == "SUCCESSFUL"
    assert stored.return_value == 0


def test_the_worker_command_in_batch_mode_drains_the_queue_and_exits():
    for _ in range(3):
        requeue_abandoned_tasks.enqueue()
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_the_task_loop_keeps_one_database_connection_across_its_tasks():
    from django.db.backends.signals import connection_created

    for _ in range(5):
        requeue_abandoned_tasks.enqueue()
    opened: list[object] = []
    loop = threading.current_thread()  # run_forever runs the loop here (a thread beats)

    def count(sender: object, connection: object, **kwargs: object) -> None:
        if threading.current_thread() is loop:
            opened.append(connection)

    connection_created.connect(count)
    try:
        CasedeskWorker(batch=True, interval=0).run_forever()
    finally:
        connection_created.disconnect(count)
    assert len(opened) == 1  # not one (or two) a task
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_a_dead_lanes_batch_goes_back_to_the_queue_with_its_task():
    """The supervisor releases what a lane that died held: its task, and the rows it
    claimed beside it for a batch (not left for the abandoned-task sweep)."""
    from casedesk.core.tasks import claim_ready
    from casedesk.core.worker import release_held_by

    lane, other_lane = "host:1:abc/default", "host:1:abc/critical"
    results = [requeue_abandoned_tasks.enqueue() for _ in range(5)]
    rows = DBTaskResult.objects.filter(id__in=[r.id for r in results])
    task = rows.get(id=results[0].id)
    task.claim(lane)
    batch = claim_ready(requeue_abandoned_tasks, lane, 2)
    elsewhere = claim_ready(requeue_abandoned_tasks, other_lane, 1)
    died_at = timezone.now()
    with time_machine.travel(died_at + timedelta(seconds=1)):  # its replacement, same id
        replacement = claim_ready(requeue_abandoned_tasks, lane, 1)
    assert release_held_by(str(task.id), lane, died_at) == 3
    status = dict(rows.values_list("id", "status"))
    assert [status[UUID(row_id)] for row_id, _ in batch] == ["READY", "READY"]
    assert status[task.id] == "READY"
    assert status[UUID(elsewhere[0][0])] == status[UUID(replacement[0][0])] == "RUNNING"


def test_the_loop_takes_tasks_in_django_tasks_orders_by_priority_due_time_then_age():
    now = timezone.now()
    sweep = requeue_abandoned_tasks  # on the critical queue
    with time_machine.travel(now - timedelta(minutes=3)):
        older = sweep.enqueue()
    with time_machine.travel(now - timedelta(minutes=2)):
        due = sweep.using(run_after=now - timedelta(minutes=1)).enqueue()
        newer = sweep.enqueue()
        later = sweep.using(run_after=now + timedelta(hours=1)).enqueue()
        urgent = sweep.using(priority=10).enqueue()
        elsewhere = sweep.using(queue_name="default", priority=20).enqueue()
    loop = CasedeskWorker(queue_names=["critical"]).worker
    taken = []
    while True:
        with transaction.atomic():  # as the loop claims (the row locked until claimed)
            row = loop.next_task()
            if row is None:
                break
            row.claim(loop.worker_id)
        taken.append(row.id)
    assert [str(i) for i in taken] == [urgent.id, due.id, older.id, newer.id]
    assert {later.id, elsewhere.id}.isdisjoint(str(i) for i in taken)


def test_a_task_scheduled_for_later_waits_for_its_instant():
    later = requeue_abandoned_tasks.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()
    CasedeskWorker(batch=True, interval=0).run_forever()
    assert DBTaskResult.objects.get(id=later.id).status == "READY"


def test_a_running_worker_records_its_heartbeat_and_enqueues_due_sweeps():
    worker = CasedeskWorker(interval=0.1)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ran = DBTaskResult.objects.filter(task_path=SWEEP, status="SUCCESSFUL").exists()
            if ran and WorkerHeartbeat.objects.filter(worker_id=worker.worker.worker_id).exists():
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    beat = WorkerHeartbeat.objects.get(worker_id=worker.worker.worker_id)
    assert timezone.now() - beat.seen_at < timedelta(seconds=30)
    assert DBTaskResult.objects.filter(task_path=SWEEP, status="SUCCESSFUL").exists()


def test_the_abandoned_task_sweep_is_registered_as_a_periodic_task():
    assert SWEEP in periodic.registered()


def test_a_due_periodic_run_is_claimed_once_by_a_conditional_update():
    now = timezone.now()
    first = periodic.enqueue_due(now)
    second = periodic.enqueue_due(now)
    assert SWEEP in first
    assert SWEEP not in second
    assert DBTaskResult.objects.filter(task_path=SWEEP).count() == 1


def test_a_periodic_task_is_enqueued_again_after_its_interval():
    now = timezone.now()
    periodic.enqueue_due(now)
    row = PeriodicSchedule.objects.get(name=SWEEP)
    assert row.next_run_at == now + timedelta(minutes=1)
    assert SWEEP not in periodic.enqueue_due(now + timedelta(seconds=59))
    assert SWEEP in periodic.enqueue_due(now + timedelta(minutes=1))


def test_a_periodic_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive interval"):
        periodic.periodic(every=timedelta(0))


def test_the_worker_survives_losing_the_database_and_carries_on(monkeypatch):
    """django-tasks-db's loop re-raises a lost connection; ours waits and starts it again."""
    from django.db import OperationalError
    from django_tasks_db.models import DBTaskResultQuerySet

    from casedesk.core import worker as worker_module

    real_get_locked = DBTaskResultQuerySet.get_locked
    failures: list[str] = []

    def get_locked_after_an_outage(self):
        if len(failures) < 2:
            failures.append("server closed the connection unexpectedly")
            raise OperationalError(failures[-1])
        return real_get_locked(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "get_locked", get_locked_after_an_outage)
    monkeypatch.setattr(worker_module, "RECONNECT_FIRST_WAIT", 0.05)
    result = requeue_abandoned_tasks.enqueue()
    worker = CasedeskWorker(interval=0.05, schedule=False)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL":
                break
            time.sleep(0.05)
        assert len(failures) == 2
        assert DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL"
        assert worker._task_thread is not None and worker._task_thread.is_alive()
    finally:
        worker.stop()


def test_worker_ids_differ_even_for_the_same_process():
    from casedesk.core.worker import new_worker_id

    assert new_worker_id() != new_worker_id()
    assert len(new_worker_id()) <= 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "nan"], "finite"),
        (["--interval", "-1"], "zero or greater"),
        (["--max-tasks", "0"], "greater than zero"),
        (["--queue", "default,,mail"], "queue names must not be empty"),
        (["--queue", "critcal"], "unknown queue 'critcal' (the queues: default, critical)"),
        (["--queue", "critical,critical"], "a queue is named twice"),
    ],
)
def test_the_worker_command_refuses_nonsense_arguments(tmp_path, args, message):
    result = run_casedesk(embedded_environ(tmp_path), "worker", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_task_that_lost_the_database_runs_again_instead_of_being_recorded_failed(
    run_tasks, tmp_path
):
    """Recording the failure would need the database back; if it just came back (a race
    the fault tests hit on a loaded machine), the task stayed FAILED for good."""
    from casedesk.core.tests.workerproc import loses_database_once

    result = loses_database_once.enqueue(str(tmp_path))
    run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert row.status == "SUCCESSFUL"
    assert row.return_value == "done"


def test_a_statement_failing_on_a_working_connection_is_the_tasks_own_failure(
    run_tasks, tmp_path
):
    from casedesk.core.tests.workerproc import statement_fails

    result = statement_fails.enqueue(str(tmp_path))
    run_tasks()
    assert DBTaskResult.objects.get(id=result.id).status == "FAILED"
