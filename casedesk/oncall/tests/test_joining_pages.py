"""A case joining a live page: who hears about it, and which pages are still joinable."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from casedesk.cases.models import EventKind
from casedesk.oncall import report, services, tasks
from casedesk.oncall.models import Page, PageStatus

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE, at, bodies_to

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)  # a Wednesday, 2 a.m.


def test_a_case_joining_an_acknowledged_page_is_texted_to_the_acknowledger_at_once(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        first = open_case(alice, "Critical", subject="Checkout down")
        run_tasks()
    page = Page.objects.get()
    with at(NIGHT + timedelta(minutes=3)):
        services.acknowledge(page, sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=10)):
        second = open_case(alice, "Critical", subject="Login broken\nfor everyone")
        run_tasks()
    assert Page.objects.get().pk == page.pk  # it joined
    notice = bodies_to(standin, PAT_PHONE)[-1]
    assert "NEW CASE" in notice and second.reference in notice
    assert first.reference not in notice
    assert "\u201cLogin broken for everyone\u201d" in notice  # one line, no Python repr
    assert bodies_to(standin, KIM_PHONE) == []  # the acknowledger hears, not the chain
    paged = second.events.get(kind=EventKind.PAGED)
    assert "Pat Primary told about this case now" in paged.body
    sent = second.events.filter(kind=EventKind.PAGE_NOTIFICATION, body__contains="sent")
    assert sent.count() == 1
    assert not first.events.filter(body__contains="joined the acknowledged page").exists()
    # The report does not credit the second case with an acknowledgement at 0 minutes.
    with at(NIGHT + timedelta(minutes=20)):
        by_case = {
            r.case.pk: r
            for r in report.rows(NIGHT - timedelta(days=1), NIGHT + timedelta(days=1), CT)
        }
    assert by_case[first.pk].time_to_ack == timedelta(minutes=3)
    assert by_case[second.pk].time_to_ack is None


def test_a_case_joining_a_page_acknowledged_by_someone_since_deactivated_pages_its_level(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    services.acknowledge(Page.objects.get(), sms_only["pat"], "sms")
    sms_only["pat"].is_active = False
    sms_only["pat"].save()
    with at(NIGHT + timedelta(minutes=10)):
        second = open_case(alice, "Critical", subject="Second")
        run_tasks()
    # The page's current level is the primary layer, now empty: its fallback (Avery) hears.
    assert any(second.reference in b for b in bodies_to(standin, AVERY_PHONE))


def test_a_case_does_not_join_an_acknowledged_page_whose_window_is_over(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical", subject="A")
        run_tasks()
    old = Page.objects.get()
    with at(NIGHT + timedelta(minutes=3)):
        services.acknowledge(old, sms_only["pat"], "sms")
    later = NIGHT + timedelta(days=7)
    with at(later):
        newcomer = open_case(alice, "Critical", subject="C new outage")
        run_tasks()
    old.refresh_from_db()
    assert old.status == PageStatus.RESOLVED
    fresh = Page.objects.exclude(pk=old.pk).get()
    assert fresh.status == PageStatus.OPEN and newcomer.page_link.page == fresh
    assert any(newcomer.reference in b for b in bodies_to(standin, PAT_PHONE)[-1:])


def test_the_sweep_expires_an_acknowledged_page_once_its_cases_windows_are_over(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    page = Page.objects.get()
    with at(NIGHT + timedelta(minutes=3)):
        services.acknowledge(page, sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=119)):
        tasks.sweep_pages.call()
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED  # the 2-hour window still runs
    with at(NIGHT + timedelta(minutes=121)):
        tasks.sweep_pages.call()
    page.refresh_from_db()
    assert page.status == PageStatus.RESOLVED


def test_an_open_page_still_escalating_is_not_expired_by_the_window(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    with at(NIGHT + timedelta(minutes=125)):
        tasks.sweep_pages.call()
    assert Page.objects.get().status == PageStatus.OPEN  # its third pass is still running


def test_a_page_stays_live_until_alarms_configured_past_two_hours_have_run(
    sms_only, alice, open_case, standin, run_tasks, settings
):
    settings.ONCALL_CLOCK_ALARMS = [60, 180]
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    page = Page.objects.get()
    services.acknowledge(page, sms_only["pat"], "sms")
    with at(NIGHT + timedelta(minutes=150)):
        tasks.sweep_pages.call()
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED
    with at(NIGHT + timedelta(minutes=186)):
        tasks.sweep_pages.call()
    page.refresh_from_db()
    assert page.status == PageStatus.RESOLVED
