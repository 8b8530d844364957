"""`casedesk demo` puts the demo agents on call and opens one page for the console."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command

from casedesk.oncall import schedules
from casedesk.oncall.models import Notification, Page, Schedule

NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=ZoneInfo("America/Chicago"))


def demo() -> str:
    out = io.StringIO()
    call_command("demo", "--force", stdout=out)
    return out.getvalue()


def test_the_demo_pages_once_and_the_worker_prints_the_sms(
    calendars, help_articles, run_tasks, capsys, settings
):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.DEBUG = True  # `make run`: the console notifier prints SMS and calls
    with time_machine.travel(NIGHT, tick=False):
        first = demo()
        run_tasks()
    assert "created on-call primary agent@example.com" in first
    page = Page.objects.get()
    assert f"on-call page {page.code}" in first
    assert "] casedesk CRITICAL Acme" in capsys.readouterr().out
    assert Notification.objects.filter(status="sent", channel="sms").count() == 1
    schedule = Schedule.objects.get(name="Support")
    assert [p.email for p in schedules.responders(schedule.policies.get())] == [
        "agent@example.com",
        "agent2@example.com",
        "admin@example.com",
    ]
    with time_machine.travel(NIGHT, tick=False):
        assert "on-call page" not in demo()
    assert Page.objects.count() == 1


def test_the_oncall_command_says_who_is_on_call_and_answers_sms(
    db, calendars, help_articles, settings
):
    settings.TWILIO_ACCOUNT_SID = ""
    with time_machine.travel(NIGHT, tick=False):
        demo()
        out = io.StringIO()
        call_command("oncall", "now", stdout=out)
        assert "Support / Primary: agent@example.com" in out.getvalue()
        code = Page.objects.get().code
        out = io.StringIO()
        call_command("oncall", "sms", "+15555550199", "1", stdout=out)
        assert "not a number of an active agent" in out.getvalue()
    assert Page.objects.get().status == "open"
    assert code
