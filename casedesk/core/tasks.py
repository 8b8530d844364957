from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from casedesk.core import ratelimit
from casedesk.core.models import WorkerHeartbeat
from casedesk.core.periodic import periodic

logger = logging.getLogger("casedesk.worker")

# Each worker process records a heartbeat every few seconds (core.worker); one
# silent for this long is taken for dead. Long enough to ride out a busy
# database, short enough that a crashed worker's task is retried within minutes.
WORKER_STALE_AFTER = timedelta(minutes=3)
# Heartbeats of workers gone for this long are deleted.
HEARTBEAT_KEPT_FOR = timedelta(days=1)


def record_heartbeat(worker_id: str, started_at: datetime) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id[:64],
        defaults={"seen_at": now},
        create_defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "seen_at": now,
            "started_at": started_at,
        },
    )


@periodic(every=timedelta(minutes=1))
@task()
def requeue_abandoned_tasks() -> int:
    """Put back in the queue the tasks whose worker died while running them.

    django-tasks-db marks a claimed task RUNNING and nothing ever looks at it
    again if the worker is killed. A task is abandoned when it has been RUNNING
    longer than WORKER_STALE_AFTER and the worker that claimed it has not
    beaten since then. Each is reset with a conditional UPDATE (still RUNNING,
    same start), so a worker finishing it at that moment wins. Tasks are
    idempotent by rule, so running one again is safe. Returns how many.
    """
    now = timezone.now()
    cutoff = now - WORKER_STALE_AFTER
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    requeued = 0
    running = DBTaskResult.objects.filter(status="RUNNING", started_at__lt=cutoff)
    for result in running.only("id", "worker_ids", "started_at", "task_path"):
        worker = result.worker_ids[-1] if result.worker_ids else None
        if worker in alive:
            continue
        changed = DBTaskResult.objects.filter(
            id=result.id, status="RUNNING", started_at=result.started_at
        ).update(status="READY", started_at=None)
        if changed:
            requeued += 1
            logger.warning(
                "requeued task %s (%s): its worker %s stopped beating",
                result.id,
                result.task_path,
                worker,
            )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - HEARTBEAT_KEPT_FOR).delete()
    return requeued


# Expired rate-limit buckets only take space: they never change a decision
# (core.ratelimit ignores hits out of the window). Hourly keeps the tables at
# about an hour's traffic more than they need.
@periodic(every=timedelta(hours=1))
@task()
def delete_expired_rate_limits() -> int:
    """Delete rate-limit buckets, and their hits, that can no longer count.

    See ``ratelimit.delete_expired``: each bucket knows when its last hit
    leaves its window, so no policy's period needs to be known here. Returns
    how many buckets.
    """
    return ratelimit.delete_expired()
