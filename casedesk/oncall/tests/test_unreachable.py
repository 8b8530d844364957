"""Nobody reachable: no Twilio account, no phone, nobody on call, a chain run out.

Each is said on the case's timeline and to the admins, never passed off as a page sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core import checks

from casedesk.cases.models import EventKind
from casedesk.cases.presenters import acknowledgement
from casedesk.oncall.models import (
    Channel,
    LayerMember,
    Notification,
    NotificationRule,
    NotificationStatus,
    Page,
    Schedule,
)

from .conftest import at

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)


def notes(case) -> list[str]:
    return list(case.events.filter(kind=EventKind.PAGE_NOTIFICATION).values_list("body", flat=True))


def test_in_production_without_twilio_an_sms_page_fails_on_the_timeline(
    sms_only, alice, open_case, run_tasks, settings
):
    settings.DEBUG = False
    settings.TWILIO_ACCOUNT_SID = ""
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    notification = Notification.objects.get(person=sms_only["pat"])
    assert notification.status == NotificationStatus.FAILED
    assert "Twilio is not configured" in notification.error
    assert any("SMS to Pat Primary failed: Twilio is not configured" in n for n in notes(case))


def test_the_system_check_warns_in_production_without_a_twilio_account(settings):
    settings.DEBUG = False
    settings.TWILIO_ACCOUNT_SID = ""
    assert "oncall.W001" in [m.id for m in checks.run_checks()]
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    assert "oncall.W001" not in [m.id for m in checks.run_checks()]
    settings.TWILIO_ACCOUNT_SID = ""
    settings.DEBUG = True  # `make run` prints pages on the console: nothing to warn of
    assert "oncall.W001" not in [m.id for m in checks.run_checks()]


def test_a_person_whose_rules_need_a_phone_they_lack_is_paged_by_email(
    team, alice, open_case, standin, run_tasks, mailoutbox
):
    pat = team["pat"]
    pat.phone = ""
    pat.save()
    NotificationRule.objects.create(person=pat, channel=Channel.SMS, delay=timedelta(0))
    NotificationRule.objects.create(person=pat, channel=Channel.VOICE, delay=timedelta(0))
    with at(NIGHT):
        case = open_case(alice, "Critical")
        run_tasks()
    [notification] = Notification.objects.filter(person=pat)
    assert notification.channel == Channel.EMAIL
    assert notification.status == NotificationStatus.SENT
    assert any(m.to == [pat.email] and "Critical after hours" in m.subject for m in mailoutbox)
    assert any(
        "Pat Primary has no phone number for SMS and Voice call: paged by email instead" in n
        for n in notes(case)
    )
    assert standin.sent("Messages") == []


def _nobody_on_call() -> None:
    LayerMember.objects.all().delete()
    Schedule.objects.update(fallback=None)


def test_with_nobody_on_call_the_customer_is_not_told_of_a_page_and_the_admins_are_mailed(
    team, alice, open_case, standin, run_tasks, mailoutbox
):
    _nobody_on_call()
    with at(NIGHT):
        case = open_case(alice, "Critical")
        confirmation = acknowledgement(case, CT)
        run_tasks()
    assert not confirmation.paged
    assert not case.events.filter(kind=EventKind.PAGED).exists()
    assert any("nobody is on call in any step" in n for n in notes(case))
    assert any("nobody is on call and there is no fallback: the admins" in n for n in notes(case))
    admin_mails = [m for m in mailoutbox if "NOBODY REACHED" in m.subject]
    assert admin_mails and all(m.to == [team["avery"].email] for m in admin_mails)
    assert case.reference in admin_mails[0].body
    assert Page.objects.get().code in admin_mails[0].subject
    assert standin.sent() == []


def test_when_someone_is_on_call_the_customer_is_told_of_the_page(
    sms_only, alice, open_case, standin, run_tasks
):
    with at(NIGHT):
        case = open_case(alice, "Critical")
    assert acknowledgement(case, CT).paged
