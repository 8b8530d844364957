"""A real `casedesk worker` process killed (SIGKILL) between escalation steps: the next
worker process sends the next step once, and nothing before it again.

Runs on a throw-away embedded set-up (its own SQLite file) with the Twilio stand-in in
this process; the policy's steps are seconds apart (not minutes) so the test runs in
real time: step 1 comes 3 s after step 0, step 2 comes 8 s after step 1 (time enough to
acknowledge from another process).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from casedesk.core.tests.embedded import casedesk_command, embedded_environ, run_casedesk
from casedesk.oncall.twilio_standin import TwilioStandIn

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE

STEP_SECONDS = 3
ACK_WINDOW_SECONDS = 8

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


def test_a_worker_process_killed_between_steps_loses_and_repeats_nothing(tmp_path: Path, standin):
    environ = embedded_environ(
        tmp_path,
        EMAIL_URL="locmem:",
        CASEDESK_DEFAULT_CALENDAR="closed",
        CASEDESK_LOG_LEVEL="WARNING",
        TWILIO_ACCOUNT_SID=standin.account_sid,
        TWILIO_AUTH_TOKEN=standin.auth_token,
        TWILIO_FROM_NUMBER="+15555550199",
        TWILIO_API_BASE=standin.base_url,
    )
    assert run_casedesk(environ, "migrate", "-v0").returncode == 0
    made = run_casedesk(environ, "shell", "-c", SET_UP)
    assert made.returncode == 0, made.stderr

    worker = start_worker(environ)
    try:
        standin.wait_for(1, timeout=30, kind="Messages")
        worker.kill()  # SIGKILL: no clean-up, between step 0 and step 1
        worker.wait(timeout=10)
        assert (texts_to(standin, PAT_PHONE), texts_to(standin, KIM_PHONE)) == (1, 0)
        time.sleep(STEP_SECONDS + 1)  # step 1 falls due while no worker runs
        assert texts_to(standin, KIM_PHONE) == 0

        worker = start_worker(environ)
        standin.wait_for(2, timeout=30, kind="Messages")
        kim_paged = time.monotonic()
        answer = run_casedesk(environ, "oncall", "sms", KIM_PHONE, "1")
        assert "Acknowledged page" in answer.stdout, answer.stdout + answer.stderr
        assert time.monotonic() - kim_paged < ACK_WINDOW_SECONDS, "acknowledged too late"
        # Step 2's instant passes: it finds the page acknowledged and pages nobody.
        time.sleep(max(0.0, ACK_WINDOW_SECONDS - (time.monotonic() - kim_paged)) + 2)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    assert texts_to(standin, PAT_PHONE) == 1  # step 0 was not repeated
    assert texts_to(standin, KIM_PHONE) == 1  # step 1 was not lost, and sent once
    assert texts_to(standin, AVERY_PHONE) == 0  # the acknowledgement stopped step 2
