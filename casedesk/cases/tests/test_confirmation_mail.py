"""The confirmation mail: reference, target, and after hours the exact time support reopens."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

CT = ZoneInfo("America/Chicago")


def test_an_after_hours_case_is_told_when_support_reopens_in_both_zones(
    alice, open_case, run_tasks, mailoutbox
):
    alice.time_zone = "Europe/Berlin"
    alice.save()
    with time_machine.travel(datetime(2026, 11, 28, 10, 0, tzinfo=CT), tick=False):
        case = open_case(alice, "Medium", subject="Invoice totals look odd")
        run_tasks()
    (mail,) = mailoutbox
    assert mail.to == ["alice@acme.example"]
    assert mail.subject == f"[{case.reference}] We have your case: Invoice totals look odd"
    # Monday 30 November 07:00 in Chicago is 14:00 in Berlin.
    assert "It reopens Monday 30 November, 14:00 CET your time" in mail.body
    assert "(Monday 07:00 CST, America/Chicago)" in mail.body
    assert "only critical cases get immediate attention" in mail.body
    assert "12 business hours" in mail.body
    assert f"/portal/cases/{case.reference}/" in mail.body
    html = mail.alternatives[0][0]
    assert "Monday 30 November, 14:00 CET" in html


def test_a_critical_case_on_saturday_is_told_the_two_hour_target(
    alice, open_case, run_tasks, mailoutbox
):
    with time_machine.travel(datetime(2026, 11, 28, 10, 0, tzinfo=CT), tick=False):
        open_case(alice, "Critical")
        run_tasks()
    (mail,) = mailoutbox
    assert "Critical cases are worked around the clock" in mail.body
    assert "flagged as an after-hours critical case" in mail.body
    assert "2 hours, around the clock: by Saturday 28 November, 12:00 CST" in mail.body
    assert "reopens" not in mail.body


def test_in_hours_the_mail_gives_the_due_time(alice, open_case, run_tasks, mailoutbox):
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=CT), tick=False):
        open_case(alice, "High")
        run_tasks()
    assert "4 business hours: by Tuesday 1 December, 13:00 CST" in mailoutbox[0].body
    assert "closed" not in mailoutbox[0].body


def test_a_public_reply_by_support_is_mailed_to_the_requester(
    alice, agent, open_case, run_tasks, mailoutbox
):
    from casedesk.cases import services

    case = open_case(alice, "Low")
    services.add_note(case, agent, "internal only")
    services.add_reply(case, agent, "Try clearing the cache.")
    run_tasks()
    replies = [m for m in mailoutbox if "Support replied" in m.subject]
    assert [m.to for m in replies] == [["alice@acme.example"]]
    assert "Try clearing the cache." in replies[0].body
    assert not any("internal only" in m.body for m in mailoutbox)


def test_subjects_are_plain_text_not_html(alice, open_case, run_tasks, mailoutbox):
    case = open_case(alice, "Low", subject="Tom & Jerry's <export> fails")
    run_tasks()
    assert (
        mailoutbox[0].subject
        == f"[{case.reference}] We have your case: Tom & Jerry's <export> fails"
    )
    assert "Tom &amp; Jerry&#x27;s &lt;export&gt;" in mailoutbox[0].alternatives[0][0]


def test_a_priority_worked_around_the_clock_is_not_told_to_wait_for_monday(
    alice, open_case, priorities, run_tasks, mailoutbox
):
    priorities["High"].clock = "24x7"
    priorities["High"].save()
    with time_machine.travel(datetime(2026, 11, 28, 10, 0, tzinfo=CT), tick=False):
        open_case(alice, "High")
        run_tasks()
    body = mailoutbox[0].body
    assert "High cases are worked around the clock" in body
    assert "reopens" not in body and "flagged" not in body
    assert "4 hours, around the clock: by Saturday 28 November, 14:00 CST" in body


def test_a_support_calendar_without_hours_still_takes_cases_on_the_24x7_clock(
    alice, open_case, run_tasks, mailoutbox
):
    from casedesk.hours.models import Calendar

    calendar = Calendar.objects.get(name="default")
    calendar.intervals.all().delete()
    calendar.touch()
    opened = datetime(2026, 11, 28, 10, 0, tzinfo=CT)
    with time_machine.travel(opened, tick=False):
        case = open_case(alice, "Low")
        run_tasks()
    assert case.first_response_due == opened + timedelta(hours=24)
    body = mailoutbox[0].body
    assert "Support is closed now." in body and "reopens" not in body
