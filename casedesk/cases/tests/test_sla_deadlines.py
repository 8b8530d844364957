"""SLA warnings and breaches: scheduled tasks run by the real worker, each acting once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from casedesk.cases import services, tasks
from casedesk.cases.models import Case, EventKind, SlaNotice, Status

CT = ZoneInfo("America/Chicago")
OPENED = datetime(2026, 12, 1, 10, 0, tzinfo=CT)  # Tuesday, in hours
HIGH_DUE = datetime(2026, 12, 1, 14, 0, tzinfo=CT)  # four business hours later


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


def kinds(case: Case) -> list[str]:
    return list(case.events.values_list("kind", flat=True))


@pytest.fixture
def high_case(alice, open_case, run_tasks, mailoutbox):
    with at(OPENED):
        case = open_case(alice, "High", subject="Reports are slow")
        run_tasks()  # the confirmation mail
    mailoutbox.clear()
    return case


def test_the_warning_comes_at_75_percent_of_the_target_and_mails_the_agents(
    high_case, agent, admin, run_tasks, mailoutbox
):
    with at(OPENED + timedelta(hours=2, minutes=59)):
        run_tasks()
    assert EventKind.SLA_WARNING not in kinds(high_case)

    with at(OPENED + timedelta(hours=3, seconds=1)):
        run_tasks()
    warning = high_case.events.get(kind=EventKind.SLA_WARNING)
    assert not warning.public
    assert "59 minutes" in warning.body
    # Unassigned: every agent and admin hears of it.
    assert sorted(m.to[0] for m in mailoutbox) == ["admin@example.com", "agent@example.com"]
    assert "SLA warning" in mailoutbox[0].subject and high_case.reference in mailoutbox[0].subject


def test_the_breach_is_recorded_on_the_timeline_and_mails_the_assignee(
    high_case, agent, admin, run_tasks, mailoutbox
):
    services.assign(high_case, agent, admin)
    with at(HIGH_DUE + timedelta(seconds=1)):
        run_tasks()
    high_case.refresh_from_db()
    assert high_case.first_response_breached
    assert not high_case.resolution_breached
    assert kinds(high_case).count(EventKind.SLA_BREACH) == 1
    breach_mail = [m for m in mailoutbox if "BREACHED" in m.subject]
    assert [m.to for m in breach_mail] == [["agent@example.com"]]


def test_an_answered_case_gets_no_warning_and_no_breach(high_case, agent, run_tasks, mailoutbox):
    with at(OPENED + timedelta(hours=1)):
        services.add_reply(high_case, agent, "Looking now.")
    with at(HIGH_DUE + timedelta(hours=1)):
        run_tasks()
    high_case.refresh_from_db()
    assert not high_case.first_response_breached
    assert EventKind.SLA_WARNING not in kinds(high_case)
    assert EventKind.SLA_BREACH not in kinds(high_case)
    assert not [m for m in mailoutbox if "SLA" in m.subject]


def test_a_moved_deadline_makes_the_old_task_stale_and_the_new_one_act(
    high_case, agent, priorities, run_tasks
):
    with at(OPENED + timedelta(minutes=30)):
        services.change_priority(high_case, priorities["Low"], agent, "Only one user affected.")
    with at(HIGH_DUE + timedelta(minutes=1)):
        run_tasks()  # the High deadline's tasks run, find the due time moved, do nothing
    high_case.refresh_from_db()
    assert not high_case.first_response_breached
    assert high_case.first_response_due == datetime(2026, 12, 3, 10, 0, tzinfo=CT)
    with at(high_case.first_response_due + timedelta(seconds=1)):
        run_tasks()
    high_case.refresh_from_db()
    assert high_case.first_response_breached


def test_a_deadline_is_acted_on_once_however_often_its_task_runs(high_case):
    with at(HIGH_DUE + timedelta(seconds=1)):
        first = tasks.act_on_deadline(
            high_case.pk, SlaNotice.Target.FIRST_RESPONSE, SlaNotice.Stage.BREACH, HIGH_DUE
        )
        again = tasks.act_on_deadline(
            high_case.pk, SlaNotice.Target.FIRST_RESPONSE, SlaNotice.Stage.BREACH, HIGH_DUE
        )
    assert (first, again) == ("breach first_response", "done before")
    assert kinds(high_case).count(EventKind.SLA_BREACH) == 1


def test_a_breach_task_that_runs_early_does_nothing(high_case):
    with at(HIGH_DUE - timedelta(minutes=1)):
        result = tasks.act_on_deadline(
            high_case.pk, SlaNotice.Target.FIRST_RESPONSE, SlaNotice.Stage.BREACH, HIGH_DUE
        )
    assert result == "early: not due yet"


def test_a_paused_resolution_clock_does_not_breach(alice, agent, open_case, run_tasks):
    with at(OPENED):
        case = open_case(alice, "High")
        services.add_reply(case, agent, "Please try again.", status=Status.PENDING)
    due = Case.objects.get(pk=case.pk)
    assert due.resolution_due is None
    with at(OPENED + timedelta(days=10)):
        run_tasks()
    case.refresh_from_db()
    assert not case.resolution_breached


def test_the_sweep_catches_a_deadline_whose_task_was_lost(high_case, run_tasks):
    DBTaskResult.objects.filter(task_path__endswith="check_sla").delete()
    with at(HIGH_DUE + timedelta(minutes=3)):
        assert tasks.sweep_sla_breaches.call() == 1
        assert tasks.sweep_sla_breaches.call() == 0
    high_case.refresh_from_db()
    assert high_case.first_response_breached
    assert kinds(high_case).count(EventKind.SLA_BREACH) == 1


def test_every_change_schedules_only_the_deadlines_that_moved(high_case, agent):
    def scheduled() -> int:
        return DBTaskResult.objects.filter(task_path__endswith="check_sla").count()

    before = scheduled()  # warning + breach for each of the two clocks
    assert before == 4
    services.add_note(high_case, agent, "Nothing moves.")
    assert scheduled() == before
    services.add_reply(high_case, agent, "First response.")  # stops one clock, moves none
    assert scheduled() == before


def test_a_pause_after_the_warning_does_not_warn_twice(alice, agent, open_case, run_tasks):
    with at(OPENED):
        case = open_case(alice, "High")  # resolution: 24 business hours, warning at 18
    warned_at = datetime(2026, 12, 2, 16, 1, tzinfo=CT)  # 18 business hours and a minute
    with at(warned_at):
        services.add_reply(case, agent, "Working on it.")
        run_tasks()
    assert case.events.filter(kind=EventKind.SLA_WARNING).count() == 1
    with at(warned_at + timedelta(minutes=5)):
        services.change_status(case, Status.PENDING, agent)
    with at(warned_at + timedelta(minutes=10)):
        services.add_reply(case, alice, "Here is the log.")
        run_tasks()
    assert case.events.filter(kind=EventKind.SLA_WARNING).count() == 1


def test_the_warning_says_how_much_business_time_is_left(alice, open_case, run_tasks):
    with at(OPENED):
        case = open_case(alice, "High")
    with at(datetime(2026, 12, 2, 16, 1, tzinfo=CT)):
        run_tasks()
    (warning,) = case.events.filter(kind=EventKind.SLA_WARNING, new_value="resolution")
    assert warning.body.endswith("5 hours 59 minutes of business hours left.")


def test_a_priority_change_past_the_new_75_percent_mark_warns_at_once(
    alice, agent, open_case, priorities, run_tasks
):
    with at(datetime(2026, 12, 1, 9, 0, tzinfo=CT)):
        case = open_case(alice, "Low")
    with at(datetime(2026, 12, 1, 12, 30, tzinfo=CT)):  # High's 75% mark was 12:00
        services.change_priority(case, priorities["High"], agent, "The whole team is blocked.")
        run_tasks()
    warning = case.events.get(kind=EventKind.SLA_WARNING, new_value="first_response")
    assert warning.body.endswith("30 minutes left.")
