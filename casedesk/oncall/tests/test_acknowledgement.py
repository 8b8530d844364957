"""Acknowledging a page: the signed link (GET shows, POST acknowledges), SMS replies,
the voice keypress (signed Twilio webhooks), and the desk button."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from twilio.request_validator import RequestValidator

from casedesk.cases.models import EventKind
from casedesk.oncall import services
from casedesk.oncall.models import Notification, Page, PageStatus

from .conftest import KIM_PHONE, PAT_PHONE

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
BASE = "https://desk.example.com"


@pytest.fixture
def paged(team, alice, bob, open_case, standin, run_tasks, settings):
    settings.ALLOWED_HOSTS = ["testserver", "desk.example.com"]
    with time_machine.travel(NIGHT, tick=False):
        case = open_case(alice, "Critical", subject="Logins fail")
        run_tasks()
    return Page.objects.get(), case


def sms_notification(page, person) -> Notification:
    return Notification.objects.get(page=page, person=person, channel="sms")


def signed_post(client, standin, path, params, *, token=None, url=None):
    signature = RequestValidator(token or standin.auth_token).compute_signature(
        url or BASE + path, params
    )
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


# ---- The link ----


def test_opening_the_link_shows_a_button_and_changes_nothing(paged, team):
    page, _case = paged
    path = services.ack_url(sms_notification(page, team["pat"])).removeprefix(BASE)
    response = Client().get(path)
    assert response.status_code == 200
    assert b"Acknowledge page " + page.code.encode() in response.content
    assert b"Logins fail" in response.content
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_pressing_the_button_acknowledges_with_csrf_protection(paged, team):
    page, case = paged
    path = services.ack_url(sms_notification(page, team["pat"])).removeprefix(BASE)
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(path).status_code == 403  # no CSRF token: refused
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN
    form = browser.get(path).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert found is not None
    token = found.group(1)
    response = browser.post(path, {"csrfmiddlewaretoken": token})
    assert b"You acknowledged page" in response.content
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        PageStatus.ACKNOWLEDGED,
        team["pat"],
        "link",
    )
    event = case.events.get(kind=EventKind.PAGE_ACKNOWLEDGED)
    assert "Pat Primary (the link in a page)" in event.body and not event.public


@pytest.mark.parametrize(
    "token",
    ["garbage", "", "eyJuIjoxfQ:1abc:deadbeef", "x" * 500, "%00", "1' OR '1'='1"],
)
def test_a_forged_or_mangled_link_is_not_found(paged, token):
    page, _ = paged
    response = Client().post(f"/oncall/ack/{token}/") if token else Client().post("/oncall/ack//")
    assert response.status_code == 404
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_an_expired_link_is_not_found(paged, team, settings):
    page, _ = paged
    path = services.ack_url(sms_notification(page, team["pat"])).removeprefix(BASE)
    with time_machine.travel(
        datetime.now(CT) + settings.ONCALL_ACK_LINK_LIFETIME + timedelta(minutes=1)
    ):
        assert Client().post(path).status_code == 404


def test_a_deactivated_persons_link_acknowledges_nothing(paged, team):
    page, _ = paged
    path = services.ack_url(sms_notification(page, team["pat"])).removeprefix(BASE)
    team["pat"].is_active = False
    team["pat"].save()
    assert Client().get(path).status_code == 404
    assert Client().post(path).status_code == 404
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_a_link_signed_for_another_purpose_is_refused(paged, team):
    from django.core import signing

    page, _ = paged
    notification = sms_notification(page, team["pat"])
    other = signing.dumps({"n": notification.pk}, salt="something-else", compress=True)
    assert Client().post(f"/oncall/ack/{other}/").status_code == 404


# ---- SMS replies ----


@pytest.mark.parametrize("body", ["1", "ack", " ACK ", "Ack."[:3]])
def test_replying_1_or_ack_acknowledges_the_only_open_page(paged, team, body):
    page, _ = paged
    answer = services.handle_sms_reply(PAT_PHONE, body)
    assert answer.startswith(f"Acknowledged page {page.code}")
    page.refresh_from_db()
    assert page.acknowledged_by == team["pat"]


def test_with_several_open_pages_the_reply_must_name_the_code(
    paged, team, bob, open_case, run_tasks
):
    first, _ = paged
    with time_machine.travel(NIGHT + timedelta(minutes=2), tick=False):
        open_case(bob, "Critical")
        run_tasks()
    second = Page.objects.exclude(pk=first.pk).get()
    answer = services.handle_sms_reply(PAT_PHONE, "1")
    assert "2 open pages" in answer and first.code in answer and second.code in answer
    assert Page.objects.filter(status=PageStatus.OPEN).count() == 2
    answer = services.handle_sms_reply(PAT_PHONE, f"ack {second.code.lower()}")
    assert answer.startswith(f"Acknowledged page {second.code} (Globex)")
    first.refresh_from_db()
    assert first.status == PageStatus.OPEN
    assert "already acknowledged" in services.handle_sms_reply(PAT_PHONE, f"ACK {second.code}")


@pytest.mark.parametrize(
    ("number", "body", "expected"),
    [
        ("+15555550999", "1", ""),  # a stranger hears nothing
        ("", "1", ""),
        ("garbage" * 50, "ACK", ""),
        (PAT_PHONE, "", "Reply 1 or ACK"),
        (PAT_PHONE, "yes please", "Reply 1 or ACK"),
        (PAT_PHONE, "\x00\x01" * 400, "Reply 1 or ACK"),
        (PAT_PHONE, "acknowledged \x00K7Q", "Reply 1 or ACK"),
        (PAT_PHONE, "\x00xACK", "Reply 1 or ACK"),
        (PAT_PHONE + "\x00", "1", ""),
    ],
)
def test_sms_garbage_and_strangers_acknowledge_nothing(paged, number, body, expected):
    page, _ = paged
    answer = services.handle_sms_reply(number, body)
    assert answer.startswith(expected) if expected else answer == ""
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_someone_never_paged_for_it_cannot_acknowledge_by_sms(paged, team):
    page, _ = paged
    # Kim is on the secondary layer: not notified yet.
    assert services.handle_sms_reply(KIM_PHONE, f"ACK {page.code}").startswith("No open page")
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_the_sms_webhook_checks_twilios_signature_first(paged, standin):
    page, _ = paged
    params = {"From": PAT_PHONE, "Body": "1", "MessageSid": "SM" + "1" * 32}
    client = Client()
    assert client.post("/oncall/sms", params).status_code == 403  # unsigned
    tampered = signed_post(
        client, standin, "/oncall/sms", {**params, "From": KIM_PHONE, "MessageSid": "SM" + "2" * 32}
    )
    assert tampered.status_code == 200  # signed for what it says: Kim has no page
    forged = signed_post(client, standin, "/oncall/sms", params, token="not-the-token")
    assert forged.status_code == 403
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN
    ok = signed_post(client, standin, "/oncall/sms", params)
    assert ok["Content-Type"].startswith("text/xml")
    assert f"Acknowledged page {page.code}" in ok.content.decode()


def test_the_webhooks_answer_503_without_an_auth_token(paged, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert Client().post("/oncall/sms", {"From": PAT_PHONE, "Body": "1"}).status_code == 503


# ---- The voice call ----


def test_the_call_reads_the_page_and_pressing_1_acknowledges(paged, team, standin):
    page, _ = paged
    notification = sms_notification(page, team["pat"])
    path = services.voice_url(notification).removeprefix(BASE)
    client = Client()
    twiml = signed_post(client, standin, path, {"CallSid": "CA" + "2" * 32}).content.decode()
    assert "<Gather" in twiml and 'numDigits="1"' in twiml and "Acme" in twiml
    assert f'action="{path}ack/"' in twiml
    wrong = signed_post(client, standin, path + "ack/", {"Digits": "7"}).content.decode()
    assert "not 1" in wrong
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN
    right = signed_post(client, standin, path + "ack/", {"Digits": "1"}).content.decode()
    assert "Acknowledged" in right
    page.refresh_from_db()
    assert (page.acknowledged_by, page.acknowledged_via) == (team["pat"], "voice")


def test_the_voice_webhooks_refuse_unsigned_and_tampered_requests(paged, team, standin):
    page, _ = paged
    path = services.voice_url(sms_notification(page, team["pat"])).removeprefix(BASE)
    client = Client()
    assert client.post(path + "ack/", {"Digits": "1"}).status_code == 403
    signature = RequestValidator(standin.auth_token).compute_signature(
        BASE + path + "ack/", {"Digits": "2"}
    )
    tampered = client.post(path + "ack/", {"Digits": "1"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert tampered.status_code == 403
    assert client.get(path).status_code == 405
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN


def test_a_call_for_a_mangled_token_says_goodbye(paged, standin):
    twiml = signed_post(Client(), standin, "/oncall/voice/garbage/", {}).content.decode()
    assert "no longer valid" in twiml and "<Gather" not in twiml


def test_the_published_twilio_signature_vectors_pass_our_check(corpora, settings):
    """Our webhooks use RequestValidator; the shared vectors pin that it agrees with Twilio."""
    import json

    vectors = json.loads((corpora / "twilio" / "request-validator-vectors.json").read_text())
    checked = 0
    for case in vectors["cases"]:
        if case.get("body") is not None or not isinstance(case.get("params"), dict):
            continue
        validator = RequestValidator(case["auth_token"])
        result = validator.validate(case["url"], case["params"], case["x_twilio_signature"])
        assert result == case["expected_valid"], case["id"]
        checked += 1
    assert checked >= 1


# ---- The desk button ----


def test_the_desk_button_acknowledges_as_the_agent(paged, agent):
    page, _case = paged
    desk = Client()
    desk.force_login(agent)
    response = desk.post(f"/desk/oncall/pages/{page.code}/acknowledge/", follow=True)
    assert b"You acknowledged page" in response.content
    page.refresh_from_db()
    assert (page.acknowledged_by, page.acknowledged_via) == (agent, "desk")
    again = desk.post(f"/desk/oncall/pages/{page.code}/acknowledge/", follow=True)
    assert b"was already acknowledged" in again.content


@pytest.mark.parametrize("code", ["%00", "K7QF%00", "x" * 300, "'; DROP TABLE"])
def test_the_desk_button_with_a_mangled_code_is_not_found(paged, agent, code):
    desk = Client()
    desk.force_login(agent)
    assert desk.post(f"/desk/oncall/pages/{code}/acknowledge/").status_code == 404


def test_customers_cannot_reach_the_desk_button(paged, alice):
    page, _ = paged
    client = Client()
    client.force_login(alice)
    assert client.post(f"/desk/oncall/pages/{page.code}/acknowledge/").status_code == 404
    assert Client().post(f"/desk/oncall/pages/{page.code}/acknowledge/").status_code == 302
    page.refresh_from_db()
    assert page.status == PageStatus.OPEN
