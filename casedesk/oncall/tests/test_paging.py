"""Opening, joining and escalating pages; the 60- and 90-minute alarms; the safety net."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from casedesk.cases import services as case_services
from casedesk.cases.models import Case, EventKind
from casedesk.oncall import schedules, services, tasks
from casedesk.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    LayerMember,
    Notification,
    NotificationRule,
    NotificationStatus,
    Page,
    PageStatus,
    PageStep,
)

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)  # a Wednesday, 2 a.m.
IN_HOURS = datetime(2026, 12, 2, 10, 0, tzinfo=CT)


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


def texts_to(standin, number: str) -> int:
    return sum(1 for r in standin.sent("Messages") if r.form["To"] == number)


def test_a_second_critical_case_from_the_same_organization_joins_its_open_page(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        first = open_case(alice, "Critical", subject="Logins fail")
        run_tasks()
    with at(NIGHT + timedelta(minutes=5)):
        second = open_case(alice, "Critical", subject="Reports are empty")
        run_tasks()
    page = Page.objects.get()
    assert set(page.page_cases.values_list("case", flat=True)) == {first.pk, second.pk}
    assert texts_to(standin, PAT_PHONE) == 1  # paged once, not twice
    joined = second.events.get(kind=EventKind.PAGED)
    assert f"Joined page {page.code}" in joined.body


def test_another_organization_gets_its_own_page(
    sms_only, alice, bob, open_case, standin, run_tasks
):
    with at(NIGHT):
        open_case(alice, "Critical")
        open_case(bob, "Critical")
        run_tasks()
    assert sorted(Page.objects.values_list("organization__name", flat=True)) == ["Acme", "Globex"]
    assert texts_to(standin, PAT_PHONE) == 2


def test_in_hours_critical_cases_and_after_hours_high_cases_page_nobody(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(IN_HOURS):
        open_case(alice, "Critical")
    with at(NIGHT):
        open_case(alice, "High")
        run_tasks()
    assert not Page.objects.exists()
    assert standin.sent() == []


def test_an_organization_without_after_hours_coverage_is_not_paged(
    sms_only, alice, open_case, standin, run_tasks
):
    alice.organization.after_hours_coverage = False
    alice.organization.save()
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    assert services.page(case) is None
    assert not Page.objects.exists()


def test_raising_a_case_to_critical_after_hours_pages(
    sms_only, alice, agent, priorities, open_case, standin, run_tasks
):
    with at(NIGHT):
        case = open_case(alice, "High")
        case_services.change_priority(case, priorities["Critical"], agent, "Everyone is down.")
        run_tasks()
    assert Page.objects.get().page_cases.get().case_id == case.pk
    assert texts_to(standin, PAT_PHONE) == 1


def test_the_chain_repeats_twice_then_stops_and_mails_the_admins(
    sms_only, alice, open_case, standin, run_tasks, mailoutbox
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    for minutes in range(15, 200, 15):
        with at(NIGHT + timedelta(minutes=minutes, seconds=1)):
            run_tasks()
    # Three passes of primary, secondary, manager; the 60/90-minute alarms add the manager
    # (the next level after the highest reached) twice.
    assert texts_to(standin, PAT_PHONE) == 3
    assert texts_to(standin, KIM_PHONE) == 3
    assert texts_to(standin, AVERY_PHONE) == 3 + 2
    page = Page.objects.get()
    assert tasks.escalate.call(page.pk, 9) == "done before"  # exhausted once, at 135 min
    [admin_mail] = [m for m in mailoutbox if "NOBODY REACHED" in m.subject]
    assert admin_mail.to == [sms_only["avery"].email]
    assert page.code in admin_mail.subject and case.reference in admin_mail.body
    assert case.events.filter(
        kind=EventKind.PAGE_NOTIFICATION, body__contains="whole escalation chain ran"
    ).exists()


def test_the_60_and_90_minute_alarms_reach_the_next_level_even_when_acknowledged(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    page = Page.objects.get()
    with at(NIGHT + timedelta(minutes=3)):
        assert services.acknowledge(page, sms_only["pat"], "desk").acknowledged_now
    with at(NIGHT + timedelta(minutes=59)):
        run_tasks()
    assert texts_to(standin, KIM_PHONE) == 0
    with at(NIGHT + timedelta(minutes=60, seconds=1)):
        run_tasks()
    assert texts_to(standin, KIM_PHONE) == 1  # the level after the primary
    [alarm] = [m for m in standin.sent("Messages") if m.form["To"] == KIM_PHONE]
    assert "NO RESPONSE YET" in alarm.form["Body"]
    with at(NIGHT + timedelta(minutes=90, seconds=1)):
        run_tasks()
    assert texts_to(standin, AVERY_PHONE) == 1  # and then the manager
    notes = case.events.filter(kind=EventKind.PAGE_NOTIFICATION, body__contains="2-hour clock")
    assert notes.count() == 2


def test_a_step_for_an_acknowledged_page_does_nothing_and_pending_sends_are_cancelled(
    team, alice, open_case, standin, run_tasks
):
    NotificationRule.objects.create(person=team["pat"], channel="sms", delay=timedelta(0))
    NotificationRule.objects.create(person=team["pat"], channel="voice", delay=timedelta(minutes=2))
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    page = Page.objects.get()
    with at(NIGHT + timedelta(minutes=1)):
        services.acknowledge(page, team["pat"], "link")
        again = services.acknowledge(page, team["kim"], "desk")
    assert not again.acknowledged_now and again.page.acknowledged_by == team["pat"]
    with at(NIGHT + timedelta(minutes=16)):
        run_tasks()
    assert standin.sent("Calls") == []
    assert Notification.objects.get(channel="voice").status == NotificationStatus.CANCELLED
    assert tasks.escalate.call(page.pk, 1) == "stale: acknowledged"
    assert not PageStep.objects.filter(page=page, key="1").exists()


def test_an_empty_primary_layer_pages_the_fallback_and_says_so_in_the_calendar(
    sms_only, alice, open_case, standin, run_tasks
):
    LayerMember.objects.filter(person=sms_only["pat"]).delete()
    layer = sms_only["schedule"].layers.get(position=0)
    assert schedules.on_call(layer) == sms_only["avery"]
    with at(NIGHT):
        open_case(alice, "Critical")
        run_tasks()
    assert texts_to(standin, AVERY_PHONE) == 1


def test_a_step_with_nobody_on_call_moves_on_at_once(
    sms_only, alice, open_case, standin, run_tasks
):
    schedule = sms_only["schedule"]
    schedule.fallback = None
    schedule.save()
    LayerMember.objects.filter(person=sms_only["pat"]).delete()
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    assert texts_to(standin, KIM_PHONE) == 1  # no one to wait 15 minutes for
    assert case.events.filter(body__contains="nobody is on call").exists()


def test_responders_lists_the_policy_in_order_each_once(sms_only):
    policy = EscalationPolicy.objects.get(is_default=True)
    EscalationStep.objects.create(
        policy=policy, position=3, target="person", person=sms_only["pat"]
    )
    assert schedules.responders(policy) == [sms_only["pat"], sms_only["kim"], sms_only["avery"]]


def test_a_case_whose_page_was_lost_is_paged_by_the_sweep(
    sms_only, alice, open_case, standin, run_tasks
):
    from django.db.models.signals import post_save

    from casedesk.cases.models import Event
    from casedesk.cases.signals import critical_case_opened_after_hours
    from casedesk.oncall.receivers import page_critical_case, page_with_the_case

    # Both hooks lost (as if paging had failed in the transaction and the process had died
    # right after the commit).
    post_save.disconnect(sender=Event, dispatch_uid="oncall.page_with_the_case")
    critical_case_opened_after_hours.disconnect(dispatch_uid="oncall.page_critical_after_hours")
    try:
        with at(NIGHT):
            case = open_case(alice, "Critical")
            run_tasks()
    finally:
        post_save.connect(
            page_with_the_case, sender=Event, dispatch_uid="oncall.page_with_the_case"
        )
        critical_case_opened_after_hours.connect(
            page_critical_case, dispatch_uid="oncall.page_critical_after_hours"
        )
    assert not Page.objects.exists()
    with at(NIGHT + timedelta(minutes=1)):
        assert tasks.sweep_pages.call().startswith("paged 1")
        run_tasks()
        assert tasks.sweep_pages.call().startswith("paged 0")
    assert Page.objects.get().page_cases.get().case_id == case.pk
    assert texts_to(standin, PAT_PHONE) == 1


def test_paging_a_case_twice_keeps_it_on_one_page(sms_only, alice, open_case, standin):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        assert services.page(case) == services.page(Case.objects.get(pk=case.pk))
    assert Page.objects.count() == 1


def test_only_one_policy_may_be_the_default(db, oncall_defaults):
    from django.db import IntegrityError

    schedule = EscalationPolicy.objects.get(is_default=True).schedule
    with pytest.raises(IntegrityError):
        EscalationPolicy.objects.create(name="Other", schedule=schedule, is_default=True)


def test_a_page_resolves_when_every_case_on_it_is_answered(
    sms_only, alice, agent, open_case, standin, run_tasks
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    with at(NIGHT + timedelta(minutes=5)):
        case_services.add_reply(case, agent, "Looking now.")
        services.resolve_answered_pages()
    assert Page.objects.get().status == PageStatus.RESOLVED
    with at(NIGHT + timedelta(minutes=16)):
        run_tasks()
    assert texts_to(standin, KIM_PHONE) == 0


def test_a_case_lowered_from_critical_stops_its_page_escalating(
    sms_only, alice, agent, open_case, standin, run_tasks, priorities
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    assert texts_to(standin, PAT_PHONE) == 1
    with at(NIGHT + timedelta(minutes=5)):
        case_services.downgrade(case, priorities["Medium"], agent, "A question, not an outage.")
    with at(NIGHT + timedelta(minutes=16)):
        run_tasks()
    assert Page.objects.get().status == PageStatus.RESOLVED
    assert texts_to(standin, KIM_PHONE) == 0  # the secondary is never woken


def test_if_configured_an_unassigned_in_hours_critical_case_is_paged_after_15_minutes(
    sms_only, alice, open_case, standin, run_tasks, settings
):
    settings.ONCALL_PAGE_UNASSIGNED_MINUTES = 15
    with at(IN_HOURS):
        case = open_case(alice, "Critical")
        run_tasks()
    with at(IN_HOURS + timedelta(minutes=14)):
        assert tasks.sweep_pages.call().startswith("paged 0")
    with at(IN_HOURS + timedelta(minutes=15, seconds=1)):
        assert tasks.sweep_pages.call().startswith("paged 1")
        run_tasks()
    assert Page.objects.get().page_cases.get().case_id == case.pk
    assert texts_to(standin, PAT_PHONE) == 1


def test_by_default_in_hours_critical_cases_are_never_paged_by_the_sweep(
    sms_only, alice, open_case, standin
):
    with at(IN_HOURS):
        open_case(alice, "Critical")
    with at(IN_HOURS + timedelta(minutes=30)):
        assert tasks.sweep_pages.call().startswith("paged 0")


def test_an_answer_to_the_customer_cancels_an_alarm_call_still_to_come(
    team, alice, agent, open_case, standin, run_tasks
):
    NotificationRule.objects.create(person=team["kim"], channel="sms", delay=timedelta(0))
    NotificationRule.objects.create(person=team["kim"], channel="voice", delay=timedelta(minutes=2))
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
        services.acknowledge(Page.objects.get(), team["pat"], "desk")
    with at(NIGHT + timedelta(minutes=60, seconds=1)):
        run_tasks()  # the alarm: an SMS to Kim now, a call in 2 minutes
    assert texts_to(standin, KIM_PHONE) == 1
    with at(NIGHT + timedelta(minutes=61)):
        case_services.add_reply(case, agent, "On it.")
    with at(NIGHT + timedelta(minutes=63)):
        run_tasks()
    assert standin.sent("Calls") == []
    kims_call = Notification.objects.get(channel="voice", person=team["kim"])
    assert kims_call.status == NotificationStatus.CANCELLED


def test_the_page_commits_with_the_case_or_not_at_all(sms_only, alice, open_case):
    from django.db import transaction

    with at(NIGHT):
        case = open_case(alice, "Critical")  # this test's transaction never commits...
        assert Page.objects.get().page_cases.get().case_id == case.pk  # ...yet it is paged
        assert case.events.filter(kind=EventKind.PAGED).exists()

        class Abandon(Exception):
            pass

        with pytest.raises(Abandon), transaction.atomic():
            open_case(alice, "Critical", subject="Rolled back")
            raise Abandon
    assert not Case.objects.filter(subject="Rolled back").exists()
    assert Page.objects.get().page_cases.count() == 1
