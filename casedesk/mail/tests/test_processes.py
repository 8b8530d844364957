"""Mail through the real processes: `casedesk run` takes SMTP, and a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from casedesk.cases.models import Case, EventKind
from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import requeue_abandoned_tasks
from casedesk.core.tests.embedded import free_port
from casedesk.core.tests.waiting import wait_until as _wait_for
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.store import store
from casedesk.mail.tests.conftest import build
from casedesk.mail.tests.test_mailgate import _database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CASEDESK_VAR_DIR": str(tmp_path),
        "CASEDESK_FILES_DIR": str(tmp_path / "files"),
    }


def test_casedesk_run_accepts_mail_on_its_smtp_port(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    smtp_port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "casedesk",
            "run",
            "--port",
            str(free_port()),
            "--smtp-port",
            str(smtp_port),
        ],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=2) as probe:
                    return probe.noop()[0] == 250
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                return False

        _wait_for(listening, 30, "casedesk run to listen for mail")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.sendmail(
                "alice@acme.example", ["support@example.com"], build("CRITICAL: all down")
            )
        # The worker inside `casedesk run` processes it: no test code runs a task here.
        _wait_for(lambda: Case.objects.exists(), 30, "the worker to open the case")
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert Case.objects.get().priority.is_critical
    assert f"mail (SMTP)       127.0.0.1:{smtp_port} for support@example.com" in output


def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(
    mail_setup: None, alice: Any, tmp_path: Path, run_tasks: Any
) -> None:
    total = 60
    for n in range(total):
        store(build(f"Question {n}", message_id=f"<q{n}@client.example>"), source="smtp")
    worker = subprocess.Popen(
        [sys.executable, "-m", "casedesk", "worker", "--interval", "0.05"],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda: InboundMessage.objects.exclude(state=State.PENDING).count() >= 10,
            60,
            "the worker to process some of the batch",
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    done_before = InboundMessage.objects.exclude(state=State.PENDING).count()
    assert done_before < total, "the worker finished before it could be killed"

    # Three minutes pass: the dead worker's claimed task is abandoned and put back.
    long_ago = timezone.now() - timedelta(minutes=10)
    DBTaskResult.objects.filter(status="RUNNING").update(started_at=long_ago)
    WorkerHeartbeat.objects.update(seen_at=long_ago)
    requeue_abandoned_tasks.call()
    run_tasks()  # a new worker takes over

    assert not InboundMessage.objects.filter(state=State.PENDING).exists()
    assert InboundMessage.objects.filter(state=State.CREATED).count() == total
    assert Case.objects.count() == total
    subjects = sorted(Case.objects.values_list("subject", flat=True))
    assert subjects == sorted(f"Question {n}" for n in range(total))
    for case in Case.objects.all():
        assert case.events.filter(kind=EventKind.OPENED).count() == 1
