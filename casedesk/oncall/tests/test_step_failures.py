"""A step, an alarm or a send that fails: tried again, re-armed by the sweep, or failed
visibly on the timeline; never a chain that silently stops."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import OperationalError
from django_tasks_db.models import DBTaskResult

from casedesk.cases.models import EventKind
from casedesk.oncall import schedules, tasks
from casedesk.oncall.models import Notification, NotificationStatus, Page, PageStep

from .conftest import KIM_PHONE, at, bodies_to

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)


def test_a_step_that_hits_a_database_error_runs_again_and_the_chain_goes_on(
    sms_only, alice, open_case, standin, run_tasks, monkeypatch
):
    real = schedules.step_targets
    failures: list[object] = []

    def locked_once(step, instant=None):
        if step.position == 1 and not failures:
            failures.append(step)
            raise OperationalError("database is locked")
        return real(step, instant)

    monkeypatch.setattr(schedules, "step_targets", locked_once)
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    with at(NIGHT + timedelta(minutes=15, seconds=1)):
        run_tasks()  # step 1 fails: its retry is due 5 seconds later
    assert failures and not PageStep.objects.filter(key="1").exists()
    with at(NIGHT + timedelta(minutes=15, seconds=10)):
        run_tasks()
    assert PageStep.objects.filter(key="1").exists()
    [text] = bodies_to(standin, KIM_PHONE)
    assert "NO RESPONSE YET" not in text  # the secondary's own step, not the 60-minute alarm


def test_the_sweep_re_arms_an_open_page_whose_next_step_is_overdue_with_no_task(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    DBTaskResult.objects.filter(task_path="casedesk.oncall.tasks.escalate").delete()  # lost
    with at(NIGHT + timedelta(minutes=16)):
        assert "re-armed 0" in tasks.sweep_pages.call()  # within the grace: not yet
    with at(NIGHT + timedelta(minutes=17, seconds=1)):
        assert "re-armed 1" in tasks.sweep_pages.call()
        assert "re-armed 0" in tasks.sweep_pages.call()  # its task is queued now: once
        run_tasks()
    assert PageStep.objects.filter(key="1").exists()
    assert len(bodies_to(standin, KIM_PHONE)) == 1


def test_the_sweep_re_arms_a_step_whose_task_is_running_past_its_time_budget(
    sms_only, alice, open_case, standin, run_tasks
):
    """Issue 16: a step task left RUNNING by a worker that lived on (a database blip)
    counted as pending for ever; one RUNNING past its budget is lost, and re-armed."""
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    step = DBTaskResult.objects.get(task_path="casedesk.oncall.tasks.escalate", status="READY")
    step.claim("a-worker-that-still-beats")
    DBTaskResult.objects.filter(pk=step.pk).update(started_at=NIGHT + timedelta(minutes=15))
    with at(NIGHT + timedelta(minutes=15, seconds=30)):
        assert "re-armed 0" in tasks.sweep_pages.call()  # running, within its budget
    with at(NIGHT + timedelta(minutes=17, seconds=1)):
        assert "re-armed 1" in tasks.sweep_pages.call()
        run_tasks()
    assert PageStep.objects.filter(key="1").exists()
    assert len(bodies_to(standin, KIM_PHONE)) == 1


def test_a_send_that_fails_every_retry_is_marked_failed_on_the_timeline(
    sms_only, alice, open_case, standin, run_tasks
):
    standin.fail_next(503, times=5)
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    for seconds in (10, 30, 70, 150):
        with at(NIGHT + timedelta(seconds=seconds + 1)):
            run_tasks()
    notification = Notification.objects.get(person=sms_only["pat"], step__key="0")
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempts == 5
    assert "gave up after 5 attempts" in notification.error
    assert case.events.filter(
        kind=EventKind.PAGE_NOTIFICATION, body__contains="SMS to Pat Primary failed: gave up"
    ).exists()
    assert Page.objects.get().status == "open"  # the escalation goes on regardless
