"""A database blip strands nothing: the real `casedesk worker` on PostgreSQL through a
TCP proxy the test owns, refused in the middle of a task and of a burst of pages.

Found (issue 16): with PostgreSQL refused for 30 s during a burst, one task stayed
RUNNING until the worker was restarted: the task loop restarted under the same worker
id, never released the task it held, and the abandoned-task sweep skipped it because
that worker still beat. Now the lane puts the task back as soon as the database
answers, well before any sweep (which waits 3 minutes) could.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tasks_db.models import DBTaskResult

from casedesk.core.models import PeriodicSchedule
from casedesk.core.tests.faultproxy import FaultProxy
from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import (
    once_slow,
    page,
    proxy_to_test_database,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.django_db(transaction=True)
BURST = 60


@pytest.fixture
def proxy():
    with proxy_to_test_database() as fault:
        yield fault


def test_a_task_running_when_the_database_is_refused_runs_again_once_it_is_back(
    tmp_path: Path, proxy: FaultProxy
):
    held = once_slow.enqueue(str(tmp_path), 3)
    worker = start_worker(tmp_path, port=proxy.port, CASEDESK_WORKER_POLL_MS="50")
    try:
        wait_until((tmp_path / "once_slow").exists, 30, "the task to start")
        pages = [page.enqueue(str(tmp_path), f"p{n}") for n in range(BURST)]
        wait_until((tmp_path / "page-p0").exists, 30, "the burst of pages to start")
        proxy.refuse()  # cuts every open connection: the held task's write fails
        accepted = proxy.accepted
        # The lanes and the supervisor knock again and again while it is refused.
        wait_until(lambda: proxy.accepted >= accepted + 3, 30, "the worker to try again")
        proxy.heal()
        wait_until(
            lambda: not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists(),
            90,
            "every task to succeed without restarting the worker",
        )
    finally:
        errors = stop_worker(worker)
    assert "the task loop lost the database" in errors
    assert "put back in the queue: the database went away while it ran" in errors
    # Nothing lost, nothing done twice.
    assert DBTaskResult.objects.get(id=held.id).status == "SUCCESSFUL"
    assert PeriodicSchedule.objects.filter(name__startswith="once_slow").count() == 1
    assert PeriodicSchedule.objects.filter(name__startswith="page ").count() == BURST
    assert (
        DBTaskResult.objects.filter(id__in=[p.id for p in pages], status="SUCCESSFUL").count()
        == BURST
    )
