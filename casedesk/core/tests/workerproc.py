"""Run the real `casedesk worker` against this test's database, and tasks for it to run.

The tasks live here (not in a test file) so that the worker process can import them by
path. Each takes a ``folder`` (the test's tmp_path) where it leaves what it did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django_tasks import task

from casedesk.core.retry import RetryPolicy, retrying, time_budget
from casedesk.core.tests.faultproxy import FaultProxy


def database_url(port: int | None = None) -> str:
    """The URL of this test's database for a child process (through ``port`` if given)."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or "postgres"
    return f"postgres://{user}@{config['HOST']}:{port or config['PORT']}/{config['NAME']}"


def proxy_to_test_database(
    why: str = "the database-fault proxy stands between casedesk and PostgreSQL only",
) -> FaultProxy:
    """A fault proxy in front of this test's PostgreSQL (the test skips on SQLite, saying
    ``why``)."""
    if connection.vendor != "postgresql":
        pytest.skip(why)
    config = connection.settings_dict
    return FaultProxy(config["HOST"] or "127.0.0.1", int(config["PORT"] or 5432))


def start_worker(
    tmp_path: Path, *args: str, port: int | None = None, **env: str
) -> subprocess.Popen[str]:
    environ = {
        **os.environ,
        "DATABASE_URL": database_url(port),
        "CASEDESK_VAR_DIR": str(tmp_path),
        "CASEDESK_FILES_DIR": str(tmp_path / "files"),
        "CASEDESK_LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "casedesk", "worker", "--interval", "0.05", *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_worker(worker: subprocess.Popen[str]) -> str:
    """Kill the worker (its lanes die with it); return what it wrote on stderr."""
    worker.kill()
    _, errors = worker.communicate(timeout=30)
    return errors


def _mark(folder: str, name: str, text: str = "") -> None:
    (Path(folder) / name).write_text(text or str(os.getpid()))


def _spun_out(folder: str, *, reason: str) -> None:
    _mark(folder, "parked", reason)


@task()
@retrying(RetryPolicy(max_attempts=2, first_delay=timedelta(0)), on_give_up=_spun_out)
@time_budget(seconds=1)
def spin(folder: str) -> None:
    """Never ends, and cannot be interrupted from Python (as a Rust sanitiser would)."""
    attempts = sorted(Path(folder).glob("spin-*"))
    _mark(folder, f"spin-{len(attempts) + 1}")
    while True:
        pass


@task()
@time_budget(seconds=120)
def nap(folder: str, seconds: float) -> str:
    """A slow, ordinary task on the default queue."""
    _mark(folder, "nap")
    time.sleep(seconds)
    return "rested"


@task(queue_name="critical")
def page(folder: str, name: str) -> str:
    """Stands for a page: claims its row once (as a real page's step claim does)."""
    from django.utils import timezone

    from casedesk.core.models import PeriodicSchedule

    _mark(folder, f"page-{name}")
    PeriodicSchedule.objects.get_or_create(
        name=f"page {name}", defaults={"next_run_at": timezone.now()}
    )
    return name


@task()
def once_slow(folder: str, seconds: float) -> str:
    """Slow on its first run only (later runs find its mark), then writes to the database."""
    from django.utils import timezone

    from casedesk.core.models import PeriodicSchedule

    first = not (Path(folder) / "once_slow").exists()
    _mark(folder, "once_slow")
    if first:
        time.sleep(seconds)
    PeriodicSchedule.objects.create(
        name=f"once_slow {timezone.now().isoformat()}", next_run_at=timezone.now()
    )
    return "done"


@task()
def loses_database_once(folder: str) -> str:
    """Loses its database connection on its first run (as an outage does), then succeeds."""
    from django.db import OperationalError

    first = not (Path(folder) / "lost").exists()
    _mark(folder, "lost")
    if first:
        connection.close()
        raise OperationalError("server closed the connection unexpectedly")
    return "done"


@task()
def statement_fails(folder: str) -> str:
    """A statement that fails on a working connection: the task's own failure."""
    from django.db import OperationalError

    _mark(folder, "statement_fails")
    raise OperationalError("canceling statement due to statement timeout")
