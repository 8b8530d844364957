"""The whole after-hours promise in one story, with the real worker, the real twilio
client and the Twilio stand-in; then the same story with a worker killed between steps.

Saturday 23:30 Central, a critical case -> SMS to Pat (primary) -> no acknowledgement
-> after 15 minutes a call to Pat and an SMS to Kim (secondary) -> Kim replies "1" by
SMS -> the escalation stops (Avery, the manager, hears nothing) -> an agent replies ->
the response clock stops at the reply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_tasks_db.models import DBTaskResult
from twilio.request_validator import RequestValidator

from casedesk.cases import services as case_services
from casedesk.cases.models import Case, EventKind
from casedesk.core.tasks import requeue_abandoned_tasks
from casedesk.oncall import tasks
from casedesk.oncall.models import NotificationRule, Page, PageStatus, PageStep

from .conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE

CT = ZoneInfo("America/Chicago")
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 30, tzinfo=CT)


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


def texts_to(standin, number: str) -> list[str]:
    return [r.form["Body"] for r in standin.sent("Messages") if r.form["To"] == number]


def calls_to(standin, number: str) -> int:
    return sum(1 for r in standin.sent("Calls") if r.form["To"] == number)


def sms_reply(client: Client, standin, number: str, body: str) -> str:
    """Kim's phone answers, as Twilio would post it to our signed webhook."""
    url = "https://desk.example.com/oncall/sms"
    params = {"From": number, "To": "+15555550199", "Body": body, "MessageSid": "SM" + "1" * 32}
    signature = RequestValidator(standin.auth_token).compute_signature(url, params)
    response = client.post("/oncall/sms", params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def story(team, alice, open_case, standin, run_tasks, mailoutbox, settings):
    settings.ALLOWED_HOSTS = ["testserver", "desk.example.com"]
    NotificationRule.objects.create(person=team["pat"], channel="sms", delay=timedelta(0))
    NotificationRule.objects.create(
        person=team["pat"], channel="voice", delay=timedelta(minutes=15)
    )
    NotificationRule.objects.create(person=team["kim"], channel="sms", delay=timedelta(0))
    with at(SATURDAY_NIGHT):
        case = open_case(alice, "Critical", subject="Nobody can log in")
        run_tasks()
    return case


def test_a_saturday_night_critical_case_is_paged_escalated_acknowledged_and_answered(
    story, team, agent, standin, run_tasks, mailoutbox
):
    case = story
    page = Page.objects.get(page_cases__case=case)
    # At once: an SMS to the primary, with the page's code and a signed link.
    [first] = texts_to(standin, PAT_PHONE)
    assert "CRITICAL Acme" in first and f"ACK {page.code}" in first
    assert "https://desk.example.com/oncall/ack/" in first
    assert texts_to(standin, KIM_PHONE) == []
    # The customer's confirmation says the on-call engineer was paged.
    confirmation = next(m for m in mailoutbox if m.to == ["alice@acme.example"])
    assert "on-call engineer has been paged" in confirmation.body

    with at(SATURDAY_NIGHT + timedelta(minutes=14)):
        run_tasks()
    assert calls_to(standin, PAT_PHONE) == 0 and texts_to(standin, KIM_PHONE) == []

    # 15 minutes without an acknowledgement: a call to Pat, an SMS to Kim.
    with at(SATURDAY_NIGHT + timedelta(minutes=15, seconds=1)):
        run_tasks()
    assert calls_to(standin, PAT_PHONE) == 1
    [call] = standin.sent("Calls")
    assert call.form["Url"].startswith("https://desk.example.com/oncall/voice/")
    assert len(texts_to(standin, KIM_PHONE)) == 1

    # Kim acknowledges by SMS reply.
    with at(SATURDAY_NIGHT + timedelta(minutes=18)):
        answer = sms_reply(Client(), standin, KIM_PHONE, "1")
    assert f"Acknowledged page {page.code}" in answer
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        PageStatus.ACKNOWLEDGED,
        team["kim"],
        "sms",
    )

    # The escalation stops: at 30 minutes the manager is not paged.
    with at(SATURDAY_NIGHT + timedelta(minutes=31)):
        run_tasks()
    assert texts_to(standin, AVERY_PHONE) == [] and calls_to(standin, AVERY_PHONE) == 0
    assert not PageStep.objects.filter(page=page, key="2").exists()

    # An agent replies: the 2-hour clock stops at the reply, not at the acknowledgement.
    replied_at = SATURDAY_NIGHT + timedelta(minutes=40)
    with at(replied_at):
        case_services.add_reply(case, agent, "We are on it; the login service is restarting.")
    with at(SATURDAY_NIGHT + timedelta(hours=3)):
        run_tasks()
    case.refresh_from_db()
    assert case.first_responded_at == replied_at
    assert not case.first_response_breached
    # Nobody was alarmed at 60 or 90 minutes: the case was answered.
    assert texts_to(standin, AVERY_PHONE) == []
    page.refresh_from_db()
    assert page.status == PageStatus.RESOLVED

    # Every notification and the acknowledgement are on the timeline, with their times.
    timeline = list(case.events.order_by("at", "pk").values_list("kind", "body", "at"))
    oncall = [(k, b, t) for k, b, t in timeline if k.startswith("page") or k == "paged"]
    assert [k for k, _, _ in oncall] == [
        EventKind.PAGED,
        EventKind.PAGE_NOTIFICATION,  # SMS to Pat
        EventKind.PAGE_NOTIFICATION,  # 15 minutes: the call to Pat...
        EventKind.PAGE_NOTIFICATION,  # ...and the SMS to Kim
        EventKind.PAGE_ACKNOWLEDGED,
    ]
    bodies = [b for k, b, _ in oncall if k == EventKind.PAGE_NOTIFICATION]
    assert any("SMS to Pat Primary" in b for b in bodies)
    assert any("Voice call to Pat Primary" in b for b in bodies)
    assert any("SMS to Kim Secondary" in b for b in bodies)
    ack = next((b, t) for k, b, t in oncall if k == EventKind.PAGE_ACKNOWLEDGED)
    assert "Kim Secondary (SMS reply)" in ack[0]
    assert ack[1] == SATURDAY_NIGHT + timedelta(minutes=18)


def kill_worker_holding(task_name: str):
    """A worker claims the due task and dies with it (RUNNING, and no heartbeat ever)."""
    row = DBTaskResult.objects.filter(task_path__endswith=task_name, status="READY").order_by(
        "run_after"
    )[0]
    row.claim("killed-worker")
    return row


def test_a_worker_killed_between_steps_neither_skips_nor_repeats_a_step(
    story, team, standin, run_tasks
):
    case = story
    page = Page.objects.get(page_cases__case=case)
    assert len(texts_to(standin, PAT_PHONE)) == 1

    # At 15 minutes a worker takes step 1 and is killed before doing anything.
    with at(SATURDAY_NIGHT + timedelta(minutes=15, seconds=1)):
        held = kill_worker_holding("tasks.escalate")
        run_tasks()  # a healthy worker runs what is ready, but not the held step
    assert texts_to(standin, KIM_PHONE) == []

    # Three minutes on, the abandoned task goes back in the queue and runs once.
    with at(SATURDAY_NIGHT + timedelta(minutes=19)):
        assert requeue_abandoned_tasks.call() == 1
        run_tasks()
    held.refresh_from_db()
    assert held.status == "SUCCESSFUL"
    assert len(texts_to(standin, KIM_PHONE)) == 1
    assert len(texts_to(standin, PAT_PHONE)) == 1  # step 0 was not repeated

    # Running the same step again (a duplicate task, a second worker) does nothing.
    with at(SATURDAY_NIGHT + timedelta(minutes=20)):
        assert tasks.escalate.call(page.pk, 1) == "done before"
        assert tasks.escalate.call(page.pk, 0) == "done before"
        run_tasks()
    assert len(texts_to(standin, KIM_PHONE)) == 1

    # Then Kim acknowledges from the link in her SMS; the manager's step finds it acknowledged.
    link = texts_to(standin, KIM_PHONE)[0].rsplit(" ", 1)[1]
    path = link.removeprefix("https://desk.example.com")
    with at(SATURDAY_NIGHT + timedelta(minutes=21)):
        assert Client().post(path).status_code == 200
    with at(SATURDAY_NIGHT + timedelta(minutes=45)):
        run_tasks()
        assert tasks.escalate.call(page.pk, 2) == "stale: acknowledged"
    assert texts_to(standin, AVERY_PHONE) == []
    assert Case.objects.get(pk=case.pk).events.filter(kind=EventKind.PAGE_ACKNOWLEDGED).count() == 1
