"""The 60- and 90-minute alarms: about their own case only, counted from when the case
became critical after hours, and never dropped for running early."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django_tasks_db.models import DBTaskResult

from casedesk.cases import services as case_services
from casedesk.cases.models import EventKind
from casedesk.oncall import services, tasks
from casedesk.oncall.models import Page

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE, at, bodies_to

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
EVENING = datetime(2026, 12, 1, 19, 0, tzinfo=CT)  # after hours too, seven hours earlier


def test_an_alarm_names_and_records_only_its_own_case(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        first = open_case(alice, "Critical", subject="First outage")
        run_tasks()
    with at(NIGHT + timedelta(minutes=3)):
        services.acknowledge(Page.objects.get(), sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=30)):
        second = open_case(alice, "Critical", subject="Second outage")
        run_tasks()
    with at(NIGHT + timedelta(minutes=60, seconds=1)):
        run_tasks()  # the first case's 60-minute alarm
    [alarm] = bodies_to(standin, KIM_PHONE)
    assert "NO RESPONSE YET" in alarm and first.reference in alarm
    assert second.reference not in alarm and "more)" not in alarm
    clock_note = {"kind": EventKind.PAGE_NOTIFICATION, "body__contains": "2-hour clock"}
    assert first.events.filter(**clock_note).count() == 1
    assert not second.events.filter(**clock_note).exists()


def test_a_case_raised_to_critical_later_counts_its_alarms_from_the_raise(
    sms_only, alice, agent, priorities, open_case, standin, run_tasks
):
    with at(EVENING):
        case = open_case(alice, "High", subject="slow")
    with at(NIGHT):
        case_services.change_priority(case, priorities["Critical"], agent, "Everyone is down.")
        run_tasks()
    assert bodies_to(standin, KIM_PHONE) == [] and bodies_to(standin, AVERY_PHONE) == []
    services.acknowledge(Page.objects.get(), sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=59)):
        run_tasks()
    assert bodies_to(standin, KIM_PHONE) == []
    with at(NIGHT + timedelta(minutes=60, seconds=1)):
        run_tasks()
    assert len(bodies_to(standin, KIM_PHONE)) == 1


def test_an_alarm_that_runs_early_is_queued_again_for_its_instant(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    page = Page.objects.get()
    services.acknowledge(page, sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=10)):
        assert tasks.clock_alarm.call(page.pk, case.pk, 60).startswith("early")
    queued = DBTaskResult.objects.filter(
        task_path="casedesk.oncall.tasks.clock_alarm", status="READY"
    ).order_by("-enqueued_at")[0]
    assert queued.run_after == NIGHT + timedelta(minutes=60)
    with at(NIGHT + timedelta(minutes=60, seconds=1)):
        run_tasks()
    assert len(bodies_to(standin, KIM_PHONE)) == 1  # once: the claim stops the duplicate


def test_the_sweep_pages_a_case_raised_to_critical_long_after_it_opened_if_its_signal_was_lost(
    sms_only, alice, agent, priorities, open_case, standin, run_tasks
):
    with at(EVENING):
        case = open_case(alice, "High", subject="slow")
    with at(NIGHT):
        case_services.change_priority(case, priorities["Critical"], agent, "Everyone is down.")
    Page.objects.all().delete()  # the page never committed: a lost signal
    with at(NIGHT + timedelta(minutes=5)):
        assert tasks.sweep_pages.call().startswith("paged 1")
        run_tasks()
    assert Page.objects.get().page_cases.get().case == case


def test_a_case_answered_in_hours_and_raised_to_critical_at_night_pages_until_replied_again(
    sms_only, alice, agent, priorities, open_case, standin, run_tasks
):
    with at(datetime(2026, 12, 1, 14, 0, tzinfo=CT)):
        case = open_case(alice, "High", subject="slow")
        case_services.add_reply(case, agent, "Looking into it.")
    with at(NIGHT):
        case_services.change_priority(case, priorities["Critical"], agent, "Everyone is down.")
        run_tasks()
    page = Page.objects.get()
    assert page.status == "open"
    assert len(bodies_to(standin, PAT_PHONE)) == 1
    with at(NIGHT + timedelta(minutes=5)):
        case_services.add_reply(case, agent, "We are on it.")
        tasks.sweep_pages.call()
    page.refresh_from_db()
    assert page.status == "resolved"
