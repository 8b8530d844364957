"""The task worker: lanes of django-tasks-db's worker loop, supervised, and the scheduler.

``casedesk worker`` runs a :class:`Supervisor`: one child process per lane (by default
the ``critical`` queue and the ``default`` queue, so a page never waits behind a mail),
each running :class:`CasedeskWorker`'s task loop. The supervisor, single-threaded, forks
the lanes, enforces every task's time budget (it kills a lane that runs over and
replaces it), releases the task of a lane that died, beats for every lane and enqueues
due periodic tasks. ``casedesk run`` starts ``casedesk worker`` as its child process.
``casedesk worker --batch`` (and the tests' ``run_tasks``) run the loop in the calling
process, unsupervised.

Several workers may run against one PostgreSQL database: the task loop claims each task
with ``SELECT ... FOR UPDATE SKIP LOCKED`` and the scheduler claims each periodic run
with a conditional UPDATE.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections, connection, connections, transaction
from django.db.backends.signals import connection_created
from django.db.models import Max, Q
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from casedesk.core.dbpool import close_pools
from casedesk.core.periodic import enqueue_due
from casedesk.core.retry import TimeBudgetExceeded, retry_after_timeout
from casedesk.core.tasks import (
    CRITICAL,
    budget_of,
    record_heartbeat,
    release,
    watch_critical_queue,
)

logger = logging.getLogger("casedesk.worker")

# How often the housekeeping thread records this worker's heartbeat and looks
# for due periodic tasks. Sweeps are safety nets (deadlines are their own
# scheduled tasks), so a few seconds' lag is harmless.
HOUSEKEEPING_EVERY_SECONDS = 5.0


# After the database goes away, the task loop waits this long before trying
# again, doubling up to the maximum while the outage lasts.
RECONNECT_FIRST_WAIT = 1.0
RECONNECT_MAX_WAIT = 30.0

# The lanes of a plain `casedesk worker` (and of `casedesk run`), critical first.
LANES = ("critical", "default")

# How long the task loop keeps its database connection (it is closed at once after an
# error that left it unusable). Django closes a connection after each request or task
# (CONN_MAX_AGE=0: under ASGI a kept one would never be reused), and django-tasks-db's
# loop does so twice a task: on SQLite each task then paid a connect and its PRAGMAs,
# and the close of the last connection a checkpoint of the WAL (about 1.5 ms a task);
# on PostgreSQL a pool checkout and its health check. Bounded, so that the server's
# memory for a session and the pool's lifetime still apply.
KEEP_CONNECTION_SECONDS = 300.0

_loop_thread = threading.local()


def _keep_the_loops_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give a connection the task loop opens KEEP_CONNECTION_SECONDS of life (Django's
    ``close_old_connections``, which the loop calls, honours it; every other thread's
    connections are closed as before)."""
    if getattr(_loop_thread, "active", False):
        connection.close_at = time.monotonic() + KEEP_CONNECTION_SECONDS


connection_created.connect(_keep_the_loops_connection, dispatch_uid="casedesk.worker.keep")


def _close_connection() -> None:
    """Drop this thread's database connection (a broken one is reopened on next use)."""
    try:
        connection.close()
    except (DatabaseError, InterfaceError):
        pass


def new_worker_id() -> str:
    """Unique per worker, even for restarts in one container (pids repeat there).

    At most 53 characters, so a lane's id (``<id>/<queue>``) fits the 64 of the table."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def housekeep(worker_ids: list[str], started_at: datetime, *, schedule: bool) -> None:
    """Beat for each worker (so a task it holds is not taken for abandoned), enqueue due
    periodic tasks and watch the critical queue."""
    try:
        for worker_id in worker_ids:
            record_heartbeat(worker_id, started_at)
        if schedule:
            for name in enqueue_due():
                logger.debug("enqueued periodic task %s", name)
            watch_critical_queue()
    except Exception:
        # The database may be briefly unavailable or locked; a due run stays due and
        # the next pass claims it. Whatever went wrong, the caller's loop must live
        # on, or the worker stops beating and its running task would be taken for
        # abandoned.
        logger.exception("worker housekeeping failed; will retry")
    finally:
        _close_connection()


def lost_database(exc: BaseException) -> bool:
    """Whether ``exc`` means this thread's database connection is gone (an outage),
    rather than a statement that failed on a working connection (a timeout, a lock, a
    bug), which is the task's own failure."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    cause = exc.__cause__
    if connection.vendor == "postgresql" and cause is not None and hasattr(cause, "sqlstate"):
        # psycopg: an error the server reported carries an SQLSTATE (a timeout, a lock, a
        # deadlock): the task's own failure. None means the connection itself failed (cut,
        # refused, no pooled connection in time). Asking the connection now would not
        # tell: Django reconnects on the way out of a failed transaction, and the pool
        # waits for the server, so it may be back (issue 18).
        return getattr(cause, "sqlstate", None) is None
    try:
        return connection.connection is None or not connection.is_usable()
    except Exception:
        return True


class _Runner(Worker):
    """django-tasks-db's loop, telling ``report`` when a task starts and ends, and
    remembering the task it holds so that a lost database cannot strand it."""

    def __init__(self, report: Callable[[str], None] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.holding: DBTaskResult[Any, Any] | None = None

    def run(self) -> None:
        """django-tasks-db's loop (``Worker.run``), claiming with :meth:`next_task`."""
        _loop_thread.active = True
        try:
            logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, self.queue_names)
            if self.startup_delay and self.interval:
                time.sleep(random.random())  # noqa: S311 - no thundering herd of lanes
            while self.running:
                close_old_connections()  # the loop's connection is kept (see above)
                with exclusive_transaction():
                    try:
                        task_result = self.next_task()
                        retrieved = True
                        if task_result is not None:
                            task_result.claim(self.worker_id)
                    except OperationalError as exc:
                        if not is_locked_database_exception(exc):
                            raise
                        task_result, retrieved = None, False  # locked: try again
                if task_result is not None:
                    self.run_task(task_result)
                if self.batch and retrieved and task_result is None:
                    return
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    return
                close_old_connections()
                if self.running and task_result is None:
                    time.sleep(self.interval)
        finally:
            _loop_thread.active = False

    def next_task(self) -> DBTaskResult[Any, Any] | None:
        """The task to run next, locked (SKIP LOCKED), in django-tasks-db's order: highest
        priority first, then those due by their ``run_after`` (oldest due first), then
        those to run at once (oldest first).

        Found by index ranges of django-tasks-db's ordering index (status, priority,
        run_after, enqueued_at): one priority at a time (a handful: 0 and paging's), its
        due rows from the start of its range, its rows to run at once by equality. Its
        own ``ready()`` query walked that index past every row scheduled for later (each
        open case's SLA checks: 6,000 rows after 2,000 mails, one or more milliseconds a
        claim, growing with the open cases).
        """
        ready = DBTaskResult.objects.filter(
            status="READY", backend_name=self.backend_name, queue_name__in=self.queue_names
        )
        waiting = DBTaskResult.objects.filter(status="READY")
        now, never = timezone.now(), get_date_max()
        priority = waiting.aggregate(top=Max("priority"))["top"]
        while priority is not None:
            group = ready.filter(priority=priority)
            found = (
                group.filter(run_after__lte=now).order_by("run_after", "enqueued_at").get_locked()
                or group.filter(run_after=never).order_by("enqueued_at").get_locked()
            )
            if found is not None:
                return found
            priority = waiting.filter(priority__lt=priority).aggregate(top=Max("priority"))["top"]
        return None

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        self.holding = db_task_result
        record_failure = db_task_result.set_failed

        def set_failed(exc: BaseException) -> None:
            # A task that failed because the database went away is not a failed task:
            # raising here leaves it held, and the loop puts it back once the database
            # answers. Recording it would need the database to be back already, which it
            # may just be (a race the fault tests hit on a loaded machine), and a task
            # without a retry policy would then stay FAILED for good.
            if lost_database(exc):
                raise exc
            record_failure(exc)

        db_task_result.set_failed = set_failed
        if self.report is not None:
            budget = budget_of(db_task_result.task_path, db_task_result.queue_name)
            self.report(f"start {db_task_result.id} {budget.total_seconds():g}")
        try:
            super().run_task(db_task_result)
        finally:
            if self.report is not None:
                self.report(f"end {db_task_result.id}")
        # Only once the outcome is stored: when storing it fails (the database went
        # away), the task loop releases the task as soon as the database is back.
        self.holding = None


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
        report: Callable[[str], None] | None = None,
        startup_delay: bool | None = None,
    ) -> None:
        self.worker = _Runner(
            report,
            queue_names=queue_names or list(LANES),
            interval=settings.WORKER_POLL_SECONDS if interval is None else interval,
            batch=batch,
            backend_name="default",
            startup_delay=not batch if startup_delay is None else startup_delay,
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
            if self._task_thread is not None and not self._task_thread.is_alive():
                # A worker that no longer runs tasks must not look alive.
                return
            housekeep([self.worker.worker_id], self.started_at, schedule=self.schedule)
            self._stop.wait(HOUSEKEEPING_EVERY_SECONDS)

    def _task_loop(self) -> None:
        """django-tasks-db's loop, restarted when the database goes away.

        Its loop re-raises every database error except "database is locked";
        left alone, one short outage would end this worker for good. A task it
        had claimed when the database went away (its outcome could not be
        stored) goes back to the queue as soon as the database answers again,
        before this loop claims anything else: nobody else would release it,
        since this worker still beats.
        """
        wait = RECONNECT_FIRST_WAIT
        while True:
            try:
                self._release_held()
                self.worker.run()
                return  # stopped, or --batch / --max-tasks done
            except (DatabaseError, InterfaceError):
                if not self.worker.running or self._stop.is_set():
                    self._release_held(quietly=True)
                    return
                logger.exception("the task loop lost the database; trying again in %.0f s", wait)
                if self._stop.wait(wait):
                    self._release_held(quietly=True)
                    return
                wait = min(wait * 2, RECONNECT_MAX_WAIT)
            finally:
                _close_connection()

    def _release_held(self, *, quietly: bool = False) -> None:
        held = self.worker.holding
        if held is None:
            return
        try:
            if release(held.id, held.started_at):
                logger.warning(
                    "task %s (%s) put back in the queue: the database went away while it ran",
                    held.id,
                    held.task_path,
                )
        except (DatabaseError, InterfaceError):
            if quietly:
                return  # stopping: the abandoned-task sweep puts it back
            raise
        self.worker.holding = None

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


# ---- Lanes: one child process per queue, supervised --------------------------------

# Lanes other than the critical one run at a lower CPU priority: on a small machine a
# CPU-bound mail (sanitising a hostile body) must not starve paging or the web pages.
# Lowering needs no privilege; raising the critical lane would.
BACKGROUND_NICENESS = 10

# A lane that dies at once (a broken set-up) is started again at most this often.
RESPAWN_AT_MOST_EVERY = 1.0
# How long the supervisor waits for its pipes between two looks at budgets and children.
SUPERVISE_TICK = 0.1


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux), so a supervisor
    killed with SIGKILL leaves no lane running a task with nobody watching its budget."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the lane notices its parent gone below
        pass


@dataclass
class _Lane:
    queue: str
    worker_id: str
    pid: int = 0
    fd: int = -1
    buffer: bytes = b""
    # (task id, budget in seconds, monotonic start) of the task the lane runs now
    task: tuple[str, float, float] | None = None
    spawned: float = field(default=-RESPAWN_AT_MOST_EVERY)


class Supervisor:
    """Runs each queue in a lane (a forked child process running the task loop; the
    critical queue in ``WORKER_CRITICAL_LANES`` of them, so that one slow critical task,
    a sweep or a provider's timeout, never holds up a page) and
    stops any task that runs over its time budget: Python threads cannot be interrupted
    and mail sanitising runs in Rust, so the only real stop is killing the process.

    1. Fork one lane per queue, after closing this process's database connections and
       connection pools (children must not share a connection; SQLite's least of all).
    2. Each lane writes ``start <id> <budget>`` and ``end <id>`` to its pipe around
       each task (two short writes per task: the whole overhead).
    3. Every tick: a lane over its task's budget is killed (SIGKILL) and replaced; the
       task is recorded as failed ("stopped after exceeding its time budget of 60 s")
       and retried by its retry policy or parked. A lane that died on its own is
       replaced and its task put back in the queue at once.
    4. Every 5 s: heartbeats of the lanes, due periodic tasks, the critical-queue watch.
    This loop is single-threaded, so forking a replacement lane is safe.
    """

    def __init__(
        self,
        queues: tuple[str, ...] | list[str] = LANES,
        *,
        interval: float | None = None,
        schedule: bool = True,
        worker_id: str | None = None,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.lanes = [
            _Lane(queue, f"{self.worker_id}/{queue}{f'-{n}' if n > 1 else ''}"[:64])
            for queue in queues
            for n in range(1, 1 + (settings.WORKER_CRITICAL_LANES if queue == CRITICAL else 1))
        ]
        self.interval = settings.WORKER_POLL_SECONDS if interval is None else interval
        self.schedule = schedule
        self.started_at = timezone.now()
        self.stopping = False
        self.stop_deadline: float | None = None
        # Work to store once the database answers: (task id, budget) of tasks stopped
        # over budget, (task id, lane id, when) of tasks whose lane died holding them.
        self._overruns: list[tuple[str, float]] = []
        self._orphans: list[tuple[str, str, datetime]] = []
        self._next_housekeeping = 0.0

    # ---- the loop ----
    def run_forever(self) -> None:
        for lane in self.lanes:
            self._spawn(lane)
        try:
            while not self.stopping:
                self.tick()
        finally:
            self._shutdown()

    def stop(self, *, wait: float = 30.0) -> None:
        """Let each lane finish its task, for at most ``wait`` seconds, then stop."""
        deadline = time.monotonic() + wait
        self.stop_deadline = (
            deadline if self.stop_deadline is None else min(self.stop_deadline, deadline)
        )
        self.stopping = True

    def tick(self) -> None:
        fds = [lane.fd for lane in self.lanes if lane.fd >= 0]
        try:
            readable = select.select(fds, [], [], SUPERVISE_TICK)[0] if fds else []
        except InterruptedError:  # pragma: no cover - PEP 475 retries; a handler may not
            readable = []
        for lane in self.lanes:
            if lane.fd in readable:
                self._read(lane)
        now = time.monotonic()
        for lane in self.lanes:
            if lane.pid and self._reap(lane):
                continue
            if lane.task is not None and now - lane.task[2] > lane.task[1]:
                self._stop_overrun(lane)
            if not lane.pid and not self.stopping:
                if now - lane.spawned >= RESPAWN_AT_MOST_EVERY:
                    self._spawn(lane)
        self._store_pending()
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_EVERY_SECONDS
            self._housekeeping()

    # ---- children ----
    def _spawn(self, lane: _Lane) -> None:
        connections.close_all()
        # A pooled connection is still open after close_all(): close the pools too, so
        # the lane starts with none of this process's sockets (core/dbpool.py).
        close_pools()
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the lane
            code = 0
            try:
                os.close(read_fd)
                die_with_parent()
                if os.getppid() != parent:
                    os._exit(0)
                _run_lane(lane, write_fd, self.interval)
            except BaseException:
                logger.exception("lane %s failed", lane.queue)
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        lane.pid, lane.fd, lane.buffer, lane.task = pid, read_fd, b"", None
        lane.spawned = time.monotonic()
        logger.info("lane %s started (pid %d)", lane.queue, pid)

    def _read(self, lane: _Lane) -> bool:
        """Take in what the lane reported; False once nothing more can come now."""
        try:
            data = os.read(lane.fd, 65536)
        except (BlockingIOError, OSError):
            return False
        if not data:
            return False
        lane.buffer += data
        *lines, lane.buffer = lane.buffer.split(b"\n")
        for line in lines:
            kind, _, rest = line.decode().partition(" ")
            if kind == "start":
                task_id, _, budget = rest.partition(" ")
                lane.task = (task_id, float(budget), time.monotonic())
            elif kind == "end":
                lane.task = None
        return True

    def _reap(self, lane: _Lane, *, block: bool = False) -> bool:
        """If the lane's process has ended, clear it (its task to be put back); True if so."""
        try:
            pid, _ = os.waitpid(lane.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid = lane.pid
        if not pid:
            return False
        self._read_rest(lane)
        if lane.task is not None:
            self._orphans.append((lane.task[0], lane.worker_id, timezone.now()))
            if not self.stopping:
                logger.error(
                    "lane %s died running task %s; it goes back in the queue",
                    lane.queue,
                    lane.task[0],
                )
        self._forget(lane)
        return True

    def _read_rest(self, lane: _Lane) -> None:
        while lane.fd >= 0 and self._read(lane):
            pass

    def _forget(self, lane: _Lane) -> None:
        if lane.fd >= 0:
            os.close(lane.fd)
        lane.pid, lane.fd, lane.buffer, lane.task = 0, -1, b"", None

    def _stop_overrun(self, lane: _Lane) -> None:
        assert lane.task is not None
        task_id, budget, _ = lane.task
        try:
            os.kill(lane.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        lane.task = None  # not an orphan: recorded as stopped below
        self._reap(lane, block=True)
        # What it claimed beside its task (a batch's rows) goes back to the queue.
        self._orphans.append((task_id, lane.worker_id, timezone.now()))
        logger.error(
            "lane %s: task %s stopped after exceeding its time budget of %g s",
            lane.queue,
            task_id,
            budget,
        )
        self._overruns.append((task_id, budget))

    # ---- the database side ----
    def _store_pending(self) -> None:
        if not (self._overruns or self._orphans):
            return
        try:
            while self._overruns:
                record_overrun(*self._overruns[0])
                self._overruns.pop(0)
            while self._orphans:
                release_held_by(*self._orphans[0])
                self._orphans.pop(0)
        except (DatabaseError, InterfaceError):
            logger.warning("cannot store a stopped task's outcome yet (database away); will retry")
        finally:
            _close_connection()

    def _housekeeping(self) -> None:
        lanes = [lane.worker_id for lane in self.lanes if lane.pid]
        housekeep(lanes, self.started_at, schedule=self.schedule)

    def _shutdown(self) -> None:
        for lane in self.lanes:
            if lane.pid:
                with _suppress_lookup():
                    os.kill(lane.pid, signal.SIGTERM)
        deadline = self.stop_deadline if self.stop_deadline is not None else time.monotonic()
        while any(lane.pid for lane in self.lanes) and time.monotonic() < deadline:
            fds = [lane.fd for lane in self.lanes if lane.fd >= 0]
            readable = select.select(fds, [], [], SUPERVISE_TICK)[0] if fds else []
            for lane in self.lanes:
                if lane.fd in readable:
                    self._read(lane)
                if lane.pid:
                    self._reap(lane)
        for lane in self.lanes:
            if lane.pid:
                with _suppress_lookup():
                    os.kill(lane.pid, signal.SIGKILL)
                self._reap(lane, block=True)
        self._store_pending()


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return exc_type is not None and issubclass(exc_type, ProcessLookupError)


def _run_lane(lane: _Lane, write_fd: int, interval: float) -> None:
    """The body of a lane's process: the task loop on its queue, reporting on the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    if lane.queue != CRITICAL:
        os.nice(BACKGROUND_NICENESS)

    def report(line: str) -> None:
        try:
            os.write(write_fd, f"{line}\n".encode())
        except BrokenPipeError:  # the supervisor is gone: nobody watches the budget
            os._exit(1)

    worker = CasedeskWorker(
        queue_names=[lane.queue],
        interval=interval,
        schedule=False,
        worker_id=lane.worker_id,
        report=report,
        startup_delay=False,
    )

    def finish(signum: int, frame: FrameType | None) -> None:
        worker._stop.set()
        worker.worker.running = False

    signal.signal(signal.SIGTERM, finish)
    worker._task_loop()


def record_overrun(task_id: str, budget: float) -> str:
    """Record a task stopped over its budget as failed, and retry or park it."""
    reason = f"stopped after exceeding its time budget of {budget:g} s"
    with transaction.atomic():
        row = DBTaskResult.objects.select_for_update().filter(id=task_id, status="RUNNING").first()
        if row is None:
            return "gone"
        row.set_failed(TimeBudgetExceeded(reason))
        try:
            task = row.task
        except (ImportError, SuspiciousOperation):  # a task path that no longer imports
            return "parked (task no longer exists)"
        args_kwargs = row.args_kwargs or {}
        outcome = retry_after_timeout(
            task, list(args_kwargs.get("args") or []), dict(args_kwargs.get("kwargs") or {}), reason
        )
    logger.error("task %s (%s) %s: %s", task_id, row.task_path, reason, outcome)
    return outcome


def release_held_by(task_id: str, worker_id: str, died_at: datetime | None = None) -> int:
    """Put back in the queue the task a dead lane held (if it still holds it) and every
    other row it held: those a batch claimed beside its task (``core.tasks.claim_ready``),
    which would otherwise wait for the abandoned-task sweep. Only rows claimed before
    ``died_at``: the lane's replacement runs under the same id. Returns how many."""
    running = DBTaskResult.objects.filter(status="RUNNING")
    if died_at is not None:
        # A handful of rows (what the lanes run now): their last worker is read here.
        running = running.filter(Q(id=task_id) | Q(started_at__lte=died_at))
    else:
        running = running.filter(id=task_id)
    released = 0
    for row in running.only("id", "worker_ids", "started_at"):
        if row.worker_ids and row.worker_ids[-1] == worker_id:
            released += release(row.id, row.started_at)
    return released
