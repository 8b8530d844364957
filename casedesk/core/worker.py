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
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError, InterfaceError
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from casedesk.core.periodic import enqueue_due
from casedesk.core.tasks import record_heartbeat

logger = logging.getLogger("casedesk.worker")

# How often the housekeeping thread records this worker's heartbeat and looks
# for due periodic tasks. Sweeps are safety nets (deadlines are their own
# scheduled tasks), so a few seconds' lag is harmless.
HOUSEKEEPING_EVERY_SECONDS = 5.0


# After the database goes away, the task loop waits this long before trying
# again, doubling up to the maximum while the outage lasts.
RECONNECT_FIRST_WAIT = 1.0
RECONNECT_MAX_WAIT = 30.0


def _close_connection() -> None:
    """Drop this thread's database connection (a broken one is reopened on next use)."""
    try:
        connection.close()
    except (DatabaseError, InterfaceError):
        pass


def new_worker_id() -> str:
    """Unique per worker, even for restarts in one container (pids repeat there)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class CasedeskWorker:
    def __init__(
        self,
        *,
        interval: float | None = None,
        queue_names: list[str] | None = None,
        batch: bool = False,
        max_tasks: int | None = None,
        schedule: bool = True,
        worker_id: str | None = None,
    ) -> None:
        self.worker = Worker(
            queue_names=queue_names or ["default"],
            interval=settings.WORKER_POLL_SECONDS if interval is None else interval,
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
        self._task_thread: threading.Thread | None = None

    def _housekeeping_loop(self) -> None:
        """Beat (so a task this worker holds is not taken for abandoned) and schedule."""
        while not self._stop.is_set():
            try:
                if self._task_thread is not None and not self._task_thread.is_alive():
                    # A worker that no longer runs tasks must not look alive.
                    return
                record_heartbeat(self.worker.worker_id, self.started_at)
                if self.schedule:
                    for name in enqueue_due():
                        logger.debug("enqueued periodic task %s", name)
            except Exception:
                # The database may be briefly unavailable or locked; a due run
                # stays due and the next pass claims it. Whatever went wrong,
                # this thread must live on, or the worker stops beating and its
                # running task would be taken for abandoned.
                logger.exception("worker housekeeping failed; will retry")
            finally:
                _close_connection()
            self._stop.wait(HOUSEKEEPING_EVERY_SECONDS)

    def _task_loop(self) -> None:
        """django-tasks-db's loop, restarted when the database goes away.

        Its loop re-raises every database error except "database is locked";
        left alone, one short outage would end this worker for good.
        """
        wait = RECONNECT_FIRST_WAIT
        while True:
            try:
                self.worker.run()
                return  # stopped, or --batch / --max-tasks done
            except (DatabaseError, InterfaceError):
                if not self.worker.running or self._stop.is_set():
                    return
                logger.exception("the task loop lost the database; trying again in %.0f s", wait)
                if self._stop.wait(wait):
                    return
                wait = min(wait * 2, RECONNECT_MAX_WAIT)
            finally:
                _close_connection()

    def run_forever(self) -> None:
        """Run in the calling thread (signals are the caller's business)."""
        self._start_thread(self._housekeeping_loop, "casedesk-housekeeping")
        try:
            self._task_loop()
        finally:
            self.stop()

    def start(self) -> None:
        """Run in background threads, e.g. beside the web server."""
        self._task_thread = self._start_thread(self._task_loop, "casedesk-worker")
        self._start_thread(self._housekeeping_loop, "casedesk-housekeeping")

    def _start_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running task (if any) and stop."""
        self._stop.set()
        self.worker.running = False
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
