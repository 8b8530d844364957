"""The task worker: django-tasks-db's worker loop plus the periodic scheduler.

``casedesk worker`` runs one in the foreground; ``casedesk run`` runs one in a
thread beside the web server. Several workers may run against one PostgreSQL
database: the task loop claims each task with ``SELECT ... FOR UPDATE SKIP
LOCKED`` and the scheduler claims each periodic run with a conditional UPDATE.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.db import close_old_connections
from django.db.utils import DatabaseError
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from casedesk.core.periodic import enqueue_due
from casedesk.core.tasks import record_heartbeat

logger = logging.getLogger("casedesk.worker")

# How often the housekeeping thread records this worker's heartbeat and looks
# for due periodic tasks. Sweeps are safety nets (deadlines are their own
# scheduled tasks), so a few seconds' lag is harmless.
HOUSEKEEPING_EVERY_SECONDS = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


class CasedeskWorker:
    def __init__(
        self,
        *,
        interval: float = 1.0,
        queue_names: list[str] | None = None,
        batch: bool = False,
        max_tasks: int | None = None,
        schedule: bool = True,
        worker_id: str | None = None,
    ) -> None:
        self.worker = Worker(
            queue_names=queue_names or ["default"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=not batch,
            max_tasks=max_tasks,
            worker_id=worker_id or new_worker_id(),
            excluded_queue_names=[],
        )
        self.schedule = schedule and not batch
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _housekeeping_loop(self) -> None:
        """Beat (so a task this worker holds is not taken for abandoned) and schedule."""
        while not self._stop.is_set():
            try:
                close_old_connections()
                record_heartbeat(self.worker.worker_id, self.started_at)
                if self.schedule:
                    for name in enqueue_due():
                        logger.debug("enqueued periodic task %s", name)
            except DatabaseError:
                # The database may be briefly unavailable or locked; a due run
                # stays due and the next pass claims it.
                logger.exception("worker housekeeping failed; will retry")
            finally:
                close_old_connections()
            self._stop.wait(HOUSEKEEPING_EVERY_SECONDS)

    def _task_loop(self) -> None:
        try:
            self.worker.run()
        finally:
            close_old_connections()

    def run_forever(self) -> None:
        """Run in the calling thread (signals are the caller's business)."""
        self._start_thread(self._housekeeping_loop, "casedesk-housekeeping")
        try:
            self.worker.run()
        finally:
            self.stop()

    def start(self) -> None:
        """Run in background threads, e.g. beside the web server."""
        self._start_thread(self._housekeeping_loop, "casedesk-housekeeping")
        self._start_thread(self._task_loop, "casedesk-worker")

    def _start_thread(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running task (if any) and stop."""
        self._stop.set()
        self.worker.running = False
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
