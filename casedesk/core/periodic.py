"""Periodic tasks: safety-net sweeps that run every so often on some worker.

Deadlines in casedesk are tasks scheduled for their own instant
(``task.using(run_after=due).enqueue(...)``). A periodic sweep only catches
what a lost deadline task would have missed, so a coarse interval is enough.

Usage, in an app's ``tasks.py``::

    @periodic(every=timedelta(minutes=5))
    @task()
    def sweep_overdue() -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from casedesk.core.models import PeriodicSchedule

TaskT = TypeVar("TaskT")


@dataclass(frozen=True)
class Periodic:
    task: Any  # a django_tasks Task taking no arguments
    every: timedelta


_registry: dict[str, Periodic] = {}


def periodic(every: timedelta) -> Callable[[TaskT], TaskT]:
    """Register a task (taking no arguments) to be enqueued every ``every``."""
    if every <= timedelta(0):
        raise ValueError("a periodic task needs a positive interval")

    def register(task: TaskT) -> TaskT:
        name: str = task.module_path  # type: ignore[attr-defined]
        _registry[name] = Periodic(task=task, every=every)
        return task

    return register


def registered() -> dict[str, Periodic]:
    return dict(_registry)


def enqueue_due(now: datetime | None = None) -> list[str]:
    """Enqueue every registered periodic task that is due; return their names.

    1. Make sure each registered task has a schedule row (new ones are due at once).
    2. For each, claim the run with ``UPDATE ... WHERE next_run_at <= now``;
       only a worker whose UPDATE changed one row goes on.
    3. Enqueue the task in the same transaction as the claim, so a crash
       between the two cannot lose the run (django-tasks-db stores the task
       in the same database).
    """
    now = now or timezone.now()
    PeriodicSchedule.objects.bulk_create(
        [PeriodicSchedule(name=name, next_run_at=now) for name in _registry],
        ignore_conflicts=True,
    )
    enqueued = []
    for name, entry in _registry.items():
        with transaction.atomic():
            claimed = PeriodicSchedule.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + entry.every, last_enqueued_at=now
            )
            if claimed:
                entry.task.enqueue()
                enqueued.append(name)
    return enqueued
