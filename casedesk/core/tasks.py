from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from casedesk.core.models import WorkerHeartbeat
from casedesk.core.periodic import periodic


@periodic(every=timedelta(minutes=1))
@task()
def heartbeat() -> str:
    """Record that a worker is alive and picking up tasks (shown on /health/)."""
    return record_heartbeat(f"{socket.gethostname()}:{os.getpid()}")


def record_heartbeat(worker_id: str) -> str:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id[:64],
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "seen_at": now},
        create_defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "seen_at": now,
            "started_at": now,
        },
    )
    return worker_id
