"""SMS replies as people write them, and a phone shared by the on-call team."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from casedesk.accounts.models import User
from casedesk.oncall import services
from casedesk.oncall.models import InboundSms, Notification, NotificationStatus, Page, PageStatus

from .conftest import PAT_PHONE

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)


@pytest.fixture
def one_page(sms_only, alice, open_case, standin, run_tasks) -> Page:
    with time_machine.travel(NIGHT, tick=False):
        open_case(alice, "Critical")
        run_tasks()
    return Page.objects.get()


@pytest.fixture
def two_pages(one_page, bob, open_case, run_tasks) -> tuple[Page, Page]:
    with time_machine.travel(NIGHT + timedelta(minutes=2), tick=False):
        open_case(bob, "Critical")
        run_tasks()
    return one_page, Page.objects.exclude(pk=one_page.pk).get()


@pytest.mark.parametrize(
    "body", ["ACK omw", "1 thanks", "ack on it", "ACK SURE", "Ack.", "ack!", "1.", "ACK, on it"]
)
def test_a_natural_reply_acknowledges_the_only_open_page(one_page, sms_only, body):
    answer = services.handle_sms_reply(PAT_PHONE, body)
    assert answer.startswith(f"Acknowledged page {one_page.code}")
    one_page.refresh_from_db()
    assert one_page.status == PageStatus.ACKNOWLEDGED
    assert one_page.acknowledged_by == sms_only["pat"]


def test_with_several_open_pages_a_second_word_counts_only_if_it_is_one_of_their_codes(
    two_pages,
):
    first, second = two_pages
    answer = services.handle_sms_reply(PAT_PHONE, "ACK omw")
    assert answer.startswith("You have 2 open pages")
    assert services.handle_sms_reply(PAT_PHONE, "ACK ZZZZ").startswith("No open page ZZZZ")
    answer = services.handle_sms_reply(PAT_PHONE, f"ack {second.code.lower()}, thanks!")
    assert answer.startswith(f"Acknowledged page {second.code}")
    first.refresh_from_db()
    assert first.status == PageStatus.OPEN


def test_a_reply_naming_a_closed_page_says_it_is_closed_not_acknowledged(one_page, sms_only):
    services._resolve(one_page)
    answer = services.handle_sms_reply(PAT_PHONE, f"ACK {one_page.code}")
    assert answer == (
        f"Page {one_page.code} is closed: its cases were answered or its window is over."
    )


def test_a_reply_naming_an_acknowledged_page_says_by_whom(one_page, sms_only):
    services.acknowledge(one_page, sms_only["kim"], "desk")
    answer = services.handle_sms_reply(PAT_PHONE, f"1 {one_page.code}")
    assert answer == f"Page {one_page.code} was already acknowledged by Kim Secondary."


def test_a_shared_phone_acknowledges_as_the_one_paged_on_it(one_page, sms_only):
    # The admin shares Pat's on-call phone but was never paged for this page.
    User.objects.create_user(
        "pat2@example.com", "x" * 20, role="admin", full_name="Pat's cover", phone=PAT_PHONE
    )
    answer = services.handle_sms_reply(PAT_PHONE, "ACK")
    assert answer.startswith(f"Acknowledged page {one_page.code}")
    one_page.refresh_from_db()
    assert one_page.acknowledged_by == sms_only["pat"]


def test_a_shared_phone_with_two_people_paged_on_different_pages_is_asked_for_the_code(
    two_pages, sms_only
):
    first, _ = two_pages
    kim = sms_only["kim"]
    kim.phone = PAT_PHONE  # the team's one on-call phone
    kim.save()
    answer = services.handle_sms_reply(PAT_PHONE, "ACK")
    assert "Reply ACK and the code" in answer
    assert Page.objects.filter(status=PageStatus.OPEN).count() == 2
    assert services.handle_sms_reply(PAT_PHONE, f"ACK {first.code}").startswith("Acknowledged")
    first.refresh_from_db()
    assert first.acknowledged_by == sms_only["pat"]  # the one paged for it, not Kim


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=300))
def test_any_text_gets_an_answer_and_acknowledges_only_if_its_first_word_is_1_or_ack(
    one_page, body
):
    answer = services.handle_sms_reply(PAT_PHONE, body)
    one_page.refresh_from_db()
    acknowledged = one_page.status == PageStatus.ACKNOWLEDGED
    # Reset for the next example before asserting.
    Page.objects.filter(pk=one_page.pk).update(
        status=PageStatus.OPEN, acknowledged_at=None, acknowledged_by=None
    )
    assert answer
    words = re.findall(r"[A-Z0-9]+", body[:200].upper())
    assert acknowledged == (bool(words) and words[0] in {"1", "ACK"})


# ---- Replays: Twilio's signature has no timestamp, so a captured request verifies for ever ----


def _signed_sms(standin, settings, params: dict[str, str]):
    settings.ALLOWED_HOSTS = ["testserver", "desk.example.com"]
    url = "https://desk.example.com/oncall/sms"
    signature = RequestValidator(standin.auth_token).compute_signature(url, params)
    return Client().post("/oncall/sms", params, HTTP_X_TWILIO_SIGNATURE=signature)


def _reply(sid: str, body: str = "ACK") -> dict[str, str]:
    return {"From": PAT_PHONE, "To": "+15555550199", "Body": body, "MessageSid": sid}


def test_a_replayed_ack_does_not_acknowledge_a_page_opened_later(
    one_page, sms_only, bob, open_case, run_tasks, standin, settings
):
    first_ack = _reply("SM" + "a" * 32)
    with time_machine.travel(NIGHT + timedelta(minutes=1), tick=False):
        answer = _signed_sms(standin, settings, first_ack)
    assert f"Acknowledged page {one_page.code}" in answer.content.decode()
    # Twenty minutes later another organization's critical case pages Pat again.
    with time_machine.travel(NIGHT + timedelta(minutes=20), tick=False):
        open_case(bob, "Critical")
        run_tasks()
    later = Page.objects.exclude(pk=one_page.pk).get()
    assert later.status == PageStatus.OPEN
    with time_machine.travel(NIGHT + timedelta(minutes=21), tick=False):
        replay = _signed_sms(standin, settings, first_ack)
    assert replay.status_code == 200
    assert "<Message>" not in replay.content.decode()  # an empty answer: nothing to say
    later.refresh_from_db()
    assert later.status == PageStatus.OPEN
    assert InboundSms.objects.filter(sid=first_ack["MessageSid"]).count() == 1
    # Pat's own new reply (a new MessageSid) still acknowledges it.
    with time_machine.travel(NIGHT + timedelta(minutes=22), tick=False):
        answer = _signed_sms(standin, settings, _reply("SM" + "b" * 32, "ack"))
    assert f"Acknowledged page {later.code}" in answer.content.decode()
    later.refresh_from_db()
    assert (later.status, later.acknowledged_by) == (PageStatus.ACKNOWLEDGED, sms_only["pat"])


def test_an_ack_that_arrived_before_the_page_was_sent_does_not_acknowledge_it(one_page, sms_only):
    services.acknowledge(one_page, sms_only["kim"], "desk")
    page_sent = Notification.objects.get(page=one_page, person=sms_only["pat"]).sent_at
    assert page_sent is not None
    Page.objects.filter(pk=one_page.pk).update(status=PageStatus.OPEN)
    answer = services.handle_sms_reply(
        PAT_PHONE, "ACK", received_at=page_sent - timedelta(seconds=1)
    )
    assert answer == "No open page for you to acknowledge."
    one_page.refresh_from_db()
    assert one_page.status == PageStatus.OPEN
    answer = services.handle_sms_reply(PAT_PHONE, "ACK", received_at=page_sent)
    assert answer.startswith(f"Acknowledged page {one_page.code}")


def test_a_bare_ack_does_not_acknowledge_a_page_whose_text_is_not_sent_yet(one_page, sms_only):
    Notification.objects.filter(page=one_page).update(
        status=NotificationStatus.PENDING, sent_at=None
    )
    assert services.handle_sms_reply(PAT_PHONE, "1") == "No open page for you to acknowledge."
    one_page.refresh_from_db()
    assert one_page.status == PageStatus.OPEN


@pytest.mark.parametrize(
    ("sid", "reason"),
    [("", "MessageSid is missing."), ("SM1; DROP", "MessageSid is not a Twilio SID.")],
)
def test_an_sms_webhook_without_a_message_sid_is_refused_and_changes_nothing(
    one_page, standin, settings, sid, reason
):
    params = _reply(sid)
    if not sid:
        del params["MessageSid"]
    response = _signed_sms(standin, settings, params)
    assert (response.status_code, response.content.decode()) == (400, reason)
    one_page.refresh_from_db()
    assert one_page.status == PageStatus.OPEN
    assert not InboundSms.objects.exists()
