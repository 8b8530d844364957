from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Field, Func, JSONField, Min, Q, QuerySet, TextField, Value
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction

from casedesk.core import ratelimit
from casedesk.core.models import WorkerHeartbeat
from casedesk.core.periodic import periodic
from casedesk.core.retry import RetryPolicy, retrying

CRITICAL = "critical"

logger = logging.getLogger("casedesk.worker")

# Each worker process records a heartbeat every few seconds (core.worker); one
# silent for this long is taken for dead. Long enough to ride out a busy
# database, short enough that a crashed worker's task is retried within minutes.
WORKER_STALE_AFTER = timedelta(minutes=3)
# Heartbeats of workers gone for this long are deleted.
HEARTBEAT_KEPT_FOR = timedelta(days=1)
# A task RUNNING this much longer than its time budget is abandoned whoever holds it: a
# living worker stops its task at the budget, and releases one whose outcome it could
# not store as soon as the database is back; this covers a worker that could not.
BUDGET_GRACE = timedelta(minutes=1)

CRITICAL_WAIT_MAIL = ratelimit.RatePolicy(
    name="critical-wait-mail",
    setting="RATE_CRITICAL_WAIT_MAIL",
    why="tells the admins of a stalled critical queue without flooding them",
)


def budget_of(task_path: str, queue_name: str = "default") -> timedelta:
    """A task's time budget: its own (``core.retry.time_budget``), else its queue's."""
    try:
        seconds = getattr(import_string(task_path).func, "time_budget", None)
    except (ImportError, AttributeError):
        seconds = None
    if seconds is None:
        seconds = (
            settings.CRITICAL_TASK_BUDGET_SECONDS
            if queue_name == CRITICAL
            else settings.TASK_BUDGET_SECONDS
        )
    return timedelta(seconds=seconds)


def release(result_id: Any, started_at: datetime | None) -> bool:
    """Put a RUNNING task back in the queue (READY), unless it moved on meanwhile."""
    return bool(
        DBTaskResult.objects.filter(id=result_id, status="RUNNING", started_at=started_at).update(
            status="READY", started_at=None
        )
    )


# ---- Claiming and finishing rows in bulk (batches of one task) --------------------------


class _Appended(Func):
    """A JSON array column with one more string at its end (a row's ``worker_ids``)."""

    output_field = JSONField()

    def __init__(self, column: str, value: str) -> None:
        super().__init__(F(column), Value(value, output_field=TextField()))

    def _compiled(self, compiler: Any) -> tuple[str, str, list[Any]]:
        column, column_params = compiler.compile(self.source_expressions[0])
        value, value_params = compiler.compile(self.source_expressions[1])
        return column, value, [*column_params, *value_params]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, value, params = self._compiled(compiler)
        return f"({column} || jsonb_build_array(({value})::text))", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite's JSON1, which Django's JSONField needs anyway.
        column, value, params = self._compiled(compiler)
        return f"json_insert({column}, '$[#]', {value})", params


def claim_ready(task: Any, worker_id: str, limit: int) -> list[tuple[str, Any]]:
    """Claim up to ``limit`` rows of ``task`` (its queue and priority) that wait to run
    now, oldest first, for ``worker_id``, as the worker claims one (``SELECT ... FOR
    UPDATE SKIP LOCKED``, so two workers never claim the same row); their ids and
    arguments (``args_kwargs``).

    Two statements whatever ``limit``: the select, then one UPDATE for all the rows.
    Only rows enqueued to run at once (no ``run_after``): those are found by an index
    range scan of django-tasks-db's ordering index (status, priority, run_after,
    enqueued_at), where its ``ready()`` walks past every row scheduled for later (an
    open case's SLA checks: thousands of rows) before it reaches them. A retry (one
    with a ``run_after``) is claimed by the worker loop on its own.
    """
    if limit <= 0:
        return []
    rows = DBTaskResult.objects.filter(
        status="READY",
        priority=task.priority,
        run_after=get_date_max(),
        task_path=task.module_path,
        queue_name=task.queue_name,
    )
    with exclusive_transaction(rows.db):
        found = list(
            rows.select_for_update(skip_locked=True)
            .order_by("enqueued_at")
            .values_list("id", "args_kwargs")[:limit]
        )
        if found:
            DBTaskResult.objects.filter(id__in=[row_id for row_id, _ in found]).update(
                status="RUNNING",
                started_at=timezone.now(),
                worker_ids=_Appended("worker_ids", worker_id),
            )
    return [(str(row_id), args_kwargs) for row_id, args_kwargs in found]


def finish_successful(outcomes: dict[str, Any]) -> None:
    """Record the RUNNING rows ``outcomes`` names as successful, each with its own return
    value: one UPDATE run for every row (``executemany``) in one transaction. Django's
    ``bulk_update`` would build a CASE of every row for every column, which SQLite
    evaluates row by row (tens of milliseconds for a batch of 50)."""
    if not outcomes:
        return
    alias = router.db_for_write(DBTaskResult)
    connection = connections[alias]
    meta = DBTaskResult._meta
    quote = connection.ops.quote_name

    def field(name: str) -> Field[Any, Any]:
        found = meta.get_field(name)
        assert isinstance(found, Field)
        return found

    def column(name: str) -> str:
        return quote(field(name).column)

    # The model's names, quoted; every value a parameter.
    columns = ", ".join(
        f"{column(name)} = %s"
        for name in ("status", "finished_at", "return_value", "exception_class_path", "traceback")
    )
    table = quote(meta.db_table)
    sql = f"UPDATE {table} SET {columns} WHERE {column('id')} = %s AND {column('status')} = %s"  # noqa: S608
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    value_field = field("return_value")
    assert meta.pk is not None
    params = [
        (
            "SUCCESSFUL",
            now,
            value_field.get_db_prep_save(value, connection),
            "",
            "",
            meta.pk.get_db_prep_value(row_id, connection),
            "RUNNING",
        )
        for row_id, value in outcomes.items()
    ]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.executemany(sql, params)


# ---- Enqueueing in bulk --------------------------------------------------------------

# The rows enqueued in the current `enqueue_in_bulk` block (None: outside one).
_collected: ContextVar[list[DBTaskResult[Any, Any]] | None] = ContextVar(
    "casedesk_enqueue_in_bulk", default=None
)
_install_lock = threading.Lock()
_installed = False


def _install_collector() -> None:
    """Teach django-tasks-db's backend to hand its new row to an `enqueue_in_bulk` block
    instead of inserting it, when one is open in this context (and only then: every
    other enqueue, in any thread, inserts its row at once, as before)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.compat import normalize_json

        insert = DatabaseBackend._task_to_db_task

        def collect(self: Any, task: Any, args: Any, kwargs: Any) -> DBTaskResult[Any, Any]:
            rows = _collected.get()
            if rows is None:
                return insert(self, task, args, kwargs)
            row: DBTaskResult[Any, Any] = DBTaskResult(
                id=self._get_id(),
                args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                # What the model's pre_save handler does, which bulk_create skips.
                run_after=task.run_after or get_date_max(),
                backend_name=self.alias,
                enqueued_at=timezone.now(),
            )
            rows.append(row)
            return row

        DatabaseBackend._task_to_db_task = collect  # type: ignore[method-assign]
        _installed = True


@contextlib.contextmanager
def enqueue_in_bulk() -> Iterator[None]:
    """Tasks enqueued in this block are inserted together, in one statement, when it
    ends without an exception (and not at all when it raises). Open it inside the
    transaction the tasks belong to: they commit with it, as ``enqueue`` does.

    For code that enqueues many tasks in one transaction (a batch of mail opens cases,
    each with its SLA tasks and an auto-reply): five inserts a case become one a batch.
    Nothing in the block may look for the rows it enqueued (they are not there yet).
    """
    _install_collector()
    rows: list[DBTaskResult[Any, Any]] = []
    token = _collected.set(rows)
    try:
        yield
    finally:
        _collected.reset(token)
    if rows:
        DBTaskResult.objects.bulk_create(rows)


def still_queued(task: Any, now: datetime | None = None) -> QuerySet[DBTaskResult[Any, Any]]:
    """The rows of ``task`` that will still run: READY, or RUNNING within its budget.

    For the sweeps that enqueue again what lost its task: a RUNNING row older than its
    budget is as good as lost (its worker died or could not store the outcome), and
    ``requeue_abandoned_tasks`` puts it back soon anyway."""
    now = now or timezone.now()
    budget = budget_of(task.module_path, task.queue_name)
    return DBTaskResult.objects.filter(task_path=task.module_path).filter(
        Q(status="READY") | Q(status="RUNNING", started_at__gte=now - budget)
    )


def critical_waiting_since(now: datetime | None = None) -> datetime | None:
    """Since when the oldest critical task ready to run has waited (None: none waits)."""
    now = now or timezone.now()
    ready = DBTaskResult.objects.ready().filter(queue_name=CRITICAL)
    never = get_date_max()
    oldest = ready.aggregate(
        queued=Min("enqueued_at", filter=Q(run_after=never)),
        due=Min("run_after", filter=~Q(run_after=never)),
    )
    times = [t for t in (oldest["queued"], oldest["due"]) if t is not None]
    return min(times) if times else None


def watch_critical_queue(now: datetime | None = None) -> float | None:
    """Every worker's housekeeping: if a critical task has waited longer than
    ``CRITICAL_WAIT_ALERT_SECONDS``, log an error and (rate-limited) mail the admins.
    Pages would otherwise sit in a queue nobody serves. Returns the wait in seconds."""
    now = now or timezone.now()
    since = critical_waiting_since(now)
    if since is None:
        return None
    waited = (now - since).total_seconds()
    if waited > settings.CRITICAL_WAIT_ALERT_SECONDS:
        logger.error(
            "critical tasks (paging) have waited %.0f s: is a worker serving the critical "
            "queue running? (`casedesk worker` serves it; `casedesk worker --queue default` "
            "does not)",
            waited,
        )
        if ratelimit.attempt(CRITICAL_WAIT_MAIL, "admins").allowed:
            mail_admins_critical_waiting.enqueue(int(waited))
    return waited


@task()
@retrying(RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=30)))
def mail_admins_critical_waiting(seconds: int) -> int:
    """Tell every active admin that critical tasks wait (on the default queue, which
    is served when the critical one is not). Returns how many were mailed."""
    from casedesk.core.mail import mail_each_admin

    return mail_each_admin(
        "core/email/critical_waiting", {"seconds": seconds}, "about the critical queue"
    )


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
@task(queue_name=CRITICAL)
def requeue_abandoned_tasks() -> int:
    """Put back in the queue the tasks whose worker died while running them.

    django-tasks-db marks a claimed task RUNNING and nothing ever looks at it
    again if the worker is killed. A task is abandoned when it has been RUNNING
    longer than WORKER_STALE_AFTER and the worker that claimed it has not
    beaten since then, or, whatever its worker's heartbeat says, when it has
    been RUNNING longer than its time budget and BUDGET_GRACE (a worker stops a
    task at its budget; one still RUNNING after it was lost by a worker that
    lives on). Each is reset with a conditional UPDATE (still RUNNING, same
    start), so a worker finishing it at that moment wins. Tasks are idempotent
    by rule, so running one again is safe. On the critical queue: a jammed
    default lane must not keep a page's task stranded. Returns how many.
    """
    now = timezone.now()
    cutoff = now - WORKER_STALE_AFTER
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    requeued = 0
    running = DBTaskResult.objects.filter(status="RUNNING", started_at__isnull=False)
    for result in running.only("id", "worker_ids", "started_at", "task_path", "queue_name"):
        worker = result.worker_ids[-1] if result.worker_ids else None
        assert result.started_at is not None
        overdue = result.started_at < now - budget_of(result.task_path, result.queue_name) - (
            BUDGET_GRACE
        )
        dead = result.started_at < cutoff and worker not in alive
        if not (overdue or dead):
            continue
        if release(result.id, result.started_at):
            requeued += 1
            logger.warning(
                "requeued task %s (%s): %s",
                result.id,
                result.task_path,
                f"its worker {worker} stopped beating"
                if dead
                else "it ran past its time budget and its worker did not stop it",
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
