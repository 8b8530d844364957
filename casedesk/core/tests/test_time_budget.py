"""Every task has a time budget: the real `casedesk worker` stops a task that runs over
it (kills its lane process, which it replaces), records why, and retries it by its
policy or parks it; a slow task on the default lane never delays the critical lane."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.core.retry import TimeBudgetExceeded
from casedesk.core.tasks import mail_admins_critical_waiting, watch_critical_queue
from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import (
    nap,
    once_slow,
    page,
    spin,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.django_db(transaction=True)
SPIN = spin.module_path


def status(result) -> str:
    return DBTaskResult.objects.get(id=result.id).status


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_task_over_its_budget_is_stopped_recorded_retried_then_parked(tmp_path: Path):
    spin.enqueue(str(tmp_path))
    worker = start_worker(tmp_path)
    try:
        wait_until(
            lambda: DBTaskResult.objects.filter(task_path=SPIN, status="FAILED").count() == 2,
            60,
            "both attempts to be stopped",
        )
        wait_until((tmp_path / "parked").exists, 10, "the task to be parked")
        # The lane that ran it was replaced: the worker goes on serving.
        after = page.enqueue(str(tmp_path), "after")
        wait_until(lambda: status(after) == "SUCCESSFUL", 30, "a task after the stopped ones")
    finally:
        errors = stop_worker(worker)
    attempts = list(DBTaskResult.objects.filter(task_path=SPIN).order_by("enqueued_at"))
    assert [a.args_kwargs["kwargs"].get("attempt", 1) for a in attempts] == [1, 2]
    for attempt in attempts:
        assert attempt.exception_class_path == "casedesk.core.retry.TimeBudgetExceeded"
        assert "stopped after exceeding its time budget of 1 s" in attempt.traceback
    assert (tmp_path / "parked").read_text() == "stopped after exceeding its time budget of 1 s"
    # Really stopped, not left spinning: the processes that ran it are gone.
    for mark in ("spin-1", "spin-2"):
        assert not alive(int((tmp_path / mark).read_text())), errors
    assert "stopped after exceeding its time budget of 1 s" in errors


@pytest.mark.parametrize(
    "queue",
    [
        "default",
        # The critical queue has two lanes: a sweep over hundreds of open pages, or an
        # SMS provider's timeout, leaves the other free.
        "critical",
    ],
)
def test_a_page_is_not_held_up_by_a_slow_task_on_either_queue(tmp_path: Path, queue: str):
    slow = nap.using(queue_name=queue).enqueue(str(tmp_path), 60)
    worker = start_worker(tmp_path)
    try:
        wait_until((tmp_path / "nap").exists, 30, f"the slow {queue} task to start")
        urgent = page.enqueue(str(tmp_path), "urgent")
        wait_until(lambda: status(urgent) == "SUCCESSFUL", 20, "the page")
        assert status(slow) == "RUNNING"
    finally:
        stop_worker(worker)


def test_a_lane_killed_mid_task_puts_its_task_back_at_once(tmp_path: Path):
    """Nobody waits for the 3-minute abandoned-task sweep: the supervisor saw it die."""
    result = once_slow.enqueue(str(tmp_path), 60)
    worker = start_worker(tmp_path)
    try:
        wait_until((tmp_path / "once_slow").exists, 30, "the task to start")
        lane = int((tmp_path / "once_slow").read_text())
        os.kill(lane, 9)
        wait_until(lambda: status(result) == "SUCCESSFUL", 30, "the task to run again")
    finally:
        stop_worker(worker)
    row = DBTaskResult.objects.get(id=result.id)
    assert len(row.worker_ids) == 2
    assert row.worker_ids[0] == row.worker_ids[1]  # the same lane, started again


def test_a_plain_worker_stops_its_lanes_cleanly_on_sigterm(tmp_path: Path):
    worker = start_worker(tmp_path)
    try:
        urgent = page.enqueue(str(tmp_path), "first")
        wait_until(lambda: status(urgent) == "SUCCESSFUL", 30, "the worker to serve")
        lane = int((tmp_path / "page-first").read_text())
        worker.terminate()
        worker.wait(timeout=30)
    finally:
        if worker.returncode is None:
            stop_worker(worker)
    assert worker.returncode == 0
    wait_until(lambda: not alive(lane), 10, "the lane to stop")


def test_critical_tasks_nobody_serves_are_logged_and_mailed_to_the_admins(caplog, settings):
    settings.CRITICAL_WAIT_ALERT_SECONDS = 60
    waiting = page.enqueue("/nonexistent", "stranded")
    now = timezone.now()
    assert watch_critical_queue(now + timedelta(seconds=30)) == pytest.approx(30, abs=2)
    assert not caplog.records
    later = now + timedelta(minutes=2)
    for _ in range(3):
        assert watch_critical_queue(later) == pytest.approx(120, abs=2)
    assert "critical tasks (paging) have waited 12" in caplog.text
    mails = DBTaskResult.objects.filter(task_path=mail_admins_critical_waiting.module_path)
    assert mails.count() == 1  # one mail, not one every 5 seconds
    assert mails.get().queue_name == "default"  # served by a worker that lacks the lane
    assert status(waiting) == "READY"


def test_a_time_budget_must_be_positive():
    from casedesk.core.retry import time_budget

    with pytest.raises(ValueError, match="positive"):
        time_budget(seconds=0)
    assert issubclass(TimeBudgetExceeded, Exception)
