"""`casedesk phone simulate` against a real `casedesk run`, out of the box as after
`make run`: no Twilio token configured (debug mode makes one up in var/, which both
processes read), an after-hours emergency call from Acme's demo number, Pat lets it ring,
Kim accepts."""

from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest

from casedesk.core.tests.embedded import casedesk_command, copy_set_up, free_port, run_casedesk

pytestmark = (
    pytest.mark.no_database
)  # subprocesses on their own embedded SQLite: the PostgreSQL pass skips it

CLOSE_THE_DESK = """
from django.utils import timezone
from casedesk.hours.models import Calendar, OpeningInterval
calendar = Calendar.objects.get(name="default")
today = timezone.now().astimezone(calendar.zone).weekday()
calendar.intervals.all().delete()
OpeningInterval.objects.create(calendar=calendar, weekday=(today + 3) % 7, start="07:00", end="19:00")
calendar.touch()
"""

REPORT = """
from casedesk.phone.models import Call
# The demo data holds calls of its own (sid CAdemo...): the simulated one is the other.
call = Call.objects.exclude(sid__startswith="CAdemo").get()
print("outcome", call.outcome, call.answered_by.email)
print("legs", ",".join(leg.outcome for leg in call.legs.all()))
print("answered", call.case.first_responded_at is not None, call.case.channel)
"""


@pytest.fixture
def server(demo_set_up, tmp_path):
    environ = copy_set_up(demo_set_up, tmp_path)
    environ.pop("TWILIO_AUTH_TOKEN", None)
    environ.pop("TWILIO_ACCOUNT_SID", None)
    port = free_port()
    environ["CASEDESK_BASE_URL"] = f"http://127.0.0.1:{port}"
    result = run_casedesk(environ, "shell", "-c", CLOSE_THE_DESK)
    assert result.returncode == 0, result.stderr
    process = subprocess.Popen(
        casedesk_command("run", "--port", str(port), "--smtp-port", "0", "--no-worker"),
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("casedesk run did not start") from None
                time.sleep(0.3)
        yield environ
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_simulate_walks_through_an_after_hours_emergency_call(server):
    result = run_casedesk(
        server, "phone", "simulate", "--digits", "1", "--engineer", "no-answer,accept"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "caller hears: Thank you for calling casedesk support. Support is closed and reopens" in out
    )
    assert "caller presses: 1" in out
    assert "ringing engineer +15555550111 (up to 25 s): no-answer" in out
    assert "ringing engineer +15555550112 (up to 25 s): accept" in out
    assert "engineer hears: Critical call from Acme, case CD-" in out
    assert "engineer presses: 1" in out
    assert "caller and engineer are connected" in out
    report = run_casedesk(server, "shell", "-c", REPORT)
    assert report.returncode == 0, report.stderr
    assert "outcome connected agent2@example.com" in report.stdout
    assert "legs no_answer,accepted" in report.stdout
    assert "answered True phone" in report.stdout


def test_simulate_with_the_wrong_token_is_refused(server):
    server["TWILIO_AUTH_TOKEN"] = "not-the-servers-token"
    result = run_casedesk(server, "phone", "simulate", "--digits", "1")
    assert result.returncode != 0
    assert "answered 403" in result.stderr
