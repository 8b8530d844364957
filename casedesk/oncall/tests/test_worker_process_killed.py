"""A real `casedesk worker` process killed (SIGKILL) between escalation steps: the next
worker process sends the next step once, and nothing before it again.

Runs on a throw-away embedded set-up (its own SQLite file) with the Twilio stand-in in
this process. The policy's steps are an hour apart, so nothing falls due by itself while
the test runs, however slow the machine; the test makes the hour pass by moving the
queued step's run_after into the past in the database, as a clock would.
"""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from casedesk.core.tests.embedded import casedesk_command, copy_set_up, run_casedesk
from casedesk.core.tests.waiting import wait_until
from casedesk.oncall.twilio_standin import TwilioStandIn

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE

pytestmark = (
    pytest.mark.no_database
)  # subprocesses on their own embedded SQLite: the PostgreSQL pass skips it

STEP_SECONDS = 3600
ACK_WINDOW_SECONDS = 3600
# django-tasks-db's queue (app label django_tasks_database): the test reads it and moves
# run_after with plain SQL, not through a second Django set-up in this process.
TASKS = "django_tasks_database_dbtaskresult"
ESCALATE = "casedesk.oncall.tasks.escalate"

SET_UP = f"""
from datetime import timedelta
from casedesk.accounts.models import Organization, User
from casedesk.cases import services
from casedesk.cases.models import Priority
from casedesk.hours.models import Calendar
from casedesk.oncall.models import EscalationStep, Layer, LayerMember, NotificationRule, Schedule

Calendar.objects.create(name="closed", title="Never open", time_zone="America/Chicago")
people = {{}}
for email, phone in [("pat@example.com", "{PAT_PHONE}"), ("kim@example.com", "{KIM_PHONE}"),
                     ("avery@example.com", "{AVERY_PHONE}")]:
    people[email] = User.objects.create_user(email, None, role="agent", phone=phone)
    NotificationRule.objects.create(person=people[email], channel="sms", delay=timedelta(0))
schedule = Schedule.objects.get(name="Support")
schedule.fallback = people["avery@example.com"]
schedule.save()
for position, email in ((0, "pat@example.com"), (1, "kim@example.com")):
    LayerMember.objects.create(
        layer=Layer.objects.get(schedule=schedule, position=position), person=people[email]
    )
EscalationStep.objects.filter(position=0).update(delay=timedelta(seconds={STEP_SECONDS}))
EscalationStep.objects.exclude(position=0).update(delay=timedelta(seconds={ACK_WINDOW_SECONDS}))
acme = Organization.objects.create(name="Acme")
alice = User.objects.create_user("alice@acme.example", None, role="customer", organization=acme)
services.open_case(services.NewCase(
    requester=alice, subject="Nobody can log in", priority=Priority.objects.get(is_critical=True),
    characteristics="c", business_impact="Everyone is locked out.",
))
"""


@pytest.fixture
def standin():
    server = TwilioStandIn().start()
    yield server
    server.stop()


def texts_to(standin, number: str) -> int:
    return sum(1 for r in standin.sent("Messages") if r.form["To"] == number)


def start_worker(environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        casedesk_command("worker", "--interval", "0.2"),
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _queue(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "casedesk.sqlite3", timeout=30, isolation_level=None)


def _now() -> str:
    """Now in the form Django stores datetimes in SQLite (UTC, no offset)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def next_step_falls_due(tmp_path: Path) -> None:
    """The hour to the next escalation step passes: its queued task is due now."""
    with _queue(tmp_path) as db:
        moved = db.execute(
            f"UPDATE {TASKS} SET run_after = ? WHERE task_path = ? AND status = 'READY'",
            (_now(), ESCALATE),
        ).rowcount
    assert moved == 1, f"{moved} escalation tasks queued, expected the next step's one"


def unfinished(tmp_path: Path) -> set[str]:
    """The tasks due by now that have not finished: queued, or claimed by a worker."""
    with _queue(tmp_path) as db:
        rows = db.execute(
            f"SELECT id FROM {TASKS} WHERE status = 'RUNNING'"
            " OR (status = 'READY' AND run_after <= ?)",
            (_now(),),
        ).fetchall()
    return {row[0] for row in rows}


def test_a_worker_process_killed_between_steps_loses_and_repeats_nothing(
    migrated_set_up: Path, tmp_path: Path, standin
):
    environ = copy_set_up(
        migrated_set_up,
        tmp_path,
        EMAIL_URL="locmem:",
        CASEDESK_DEFAULT_CALENDAR="closed",
        CASEDESK_LOG_LEVEL="WARNING",
        TWILIO_ACCOUNT_SID=standin.account_sid,
        TWILIO_AUTH_TOKEN=standin.auth_token,
        TWILIO_FROM_NUMBER="+15555550199",
        TWILIO_API_BASE=standin.base_url,
    )
    made = run_casedesk(environ, "shell", "-c", SET_UP)
    assert made.returncode == 0, made.stderr

    worker = start_worker(environ)
    try:
        standin.wait_for(1, timeout=30, kind="Messages")
        worker.kill()  # SIGKILL: no clean-up, between step 0 and step 1
        worker.wait(timeout=10)
        # Its last task stays RUNNING until the abandoned-task sweep puts it back (minutes).
        abandoned = unfinished(tmp_path)
        assert (texts_to(standin, PAT_PHONE), texts_to(standin, KIM_PHONE)) == (1, 0)
        next_step_falls_due(tmp_path)  # step 1 falls due while no worker runs
        assert texts_to(standin, KIM_PHONE) == 0

        worker = start_worker(environ)
        standin.wait_for(2, timeout=30, kind="Messages")
        answer = run_casedesk(environ, "oncall", "sms", KIM_PHONE, "1")
        assert "Acknowledged page" in answer.stdout, answer.stdout + answer.stderr
        # Step 2's instant passes: it finds the page acknowledged and pages nobody.
        next_step_falls_due(tmp_path)
        wait_until(
            lambda: unfinished(tmp_path) <= abandoned, 60, "the worker to run what step 2 queued"
        )
    finally:
        worker.kill()
        worker.wait(timeout=10)
    assert texts_to(standin, PAT_PHONE) == 1  # step 0 was not repeated
    assert texts_to(standin, KIM_PHONE) == 1  # step 1 was not lost, and sent once
    assert texts_to(standin, AVERY_PHONE) == 0  # the acknowledgement stopped step 2
