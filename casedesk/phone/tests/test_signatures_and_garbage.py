"""Every webhook checks Twilio's signature before anything else, and its input after:
unsigned, tampered, oversized and malformed requests are refused and change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import path
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from casedesk.phone import views
from casedesk.phone.models import Call
from casedesk.phone.tests.conftest import BASE, PAT_PHONE, TOKEN, at, sid, signed

WEBHOOKS = [
    "/phone/voice",
    "/phone/voice/menu",
    "/phone/voice/account",
    "/phone/voice/dialed",
    "/phone/voice/whisper",
    "/phone/voice/accept",
    "/phone/voice/recorded",
    "/phone/voice/recording",
    "/phone/voice/status",
    "/phone/voice/leg",
    "/phone/sms",
]


@pytest.mark.parametrize("url", WEBHOOKS)
def test_unsigned_and_tampered_requests_are_refused(line, url, caplog):
    client = Client()
    params = {"CallSid": sid(), "From": "+15555550101", "Digits": "1"}
    assert client.post(url, params).status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(BASE + url, {**params, "Digits": "2"})
    assert client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    wrong_key = RequestValidator("not-our-token").compute_signature(BASE + url, params)
    assert client.post(url, params, HTTP_X_TWILIO_SIGNATURE=wrong_key).status_code == 403
    assert client.get(url).status_code == 405
    assert not Call.objects.exists()
    assert "bad or missing signature" in caplog.text


def test_without_an_auth_token_the_webhooks_answer_503(line, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    response = Client().post("/phone/voice", {"CallSid": sid()})
    assert response.status_code == 503 and b"not configured" in response.content


@pytest.mark.parametrize(
    ("url", "params", "reason"),
    [
        ("/phone/voice", {}, b"CallSid is missing"),
        ("/phone/voice", {"CallSid": "CA'; DROP TABLE"}, b"not a Twilio SID"),
        ("/phone/voice", {"CallSid": "CA\x00" + "1" * 32}, b"not a Twilio SID"),
        ("/phone/voice/dialed", {"CallSid": sid(), "DialCallStatus": "maybe"}, b"DialCallStatus"),
        (
            "/phone/voice/dialed",
            {"CallSid": sid(), "DialCallStatus": "completed", "DialCallDuration": "-4"},
            b"seconds",
        ),
        ("/phone/voice/status", {"CallSid": sid(), "CallStatus": "exploded"}, b"CallStatus"),
        (
            "/phone/voice/status",
            {"CallSid": sid(), "CallStatus": "ringing", "SequenceNumber": "x"},
            b"SequenceNumber",
        ),
        ("/phone/voice/whisper", {"CallSid": sid()}, b"ParentCallSid is missing"),
        (
            "/phone/voice/recording",
            {"CallSid": sid(), "RecordingSid": "RE" + "1" * 32, "RecordingUrl": "javascript:x"},
            b"RecordingUrl",
        ),
    ],
)
def test_malformed_parameters_get_a_clear_400(line, url, params, reason):
    response = signed(Client(), url, params)
    assert response.status_code == 400 and reason in response.content
    assert not Call.objects.exists()


def test_a_huge_body_is_refused_before_it_is_parsed(line):
    params = {"CallSid": sid(), "Body": "x" * 100_000}
    response = signed(Client(), "/phone/voice", params)
    assert response.status_code == 413
    assert not Call.objects.exists()


def test_garbage_digits_count_as_a_wrong_key(caller, line):
    with at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC)):
        caller.ring()
        assert "not an option" not in caller.press("1<script>")  # not a key: nothing heard
        assert "<Dial" not in caller.press("\u0661")  # an Arabic-Indic one is not a 1
    assert Call.objects.get(sid=caller.sid).menu_attempts == 2


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.sampled_from(WEBHOOKS[:-1]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "CallSid",
                "ParentCallSid",
                "Digits",
                "From",
                "To",
                "CallStatus",
                "DialCallStatus",
                "SequenceNumber",
                "CallDuration",
                "RecordingUrl",
                "RecordingSid",
                "AnsweredBy",
                "Timestamp",
                "DialCallDuration",
                "RecordingDuration",
            ]
        ),
        st.text(max_size=40),
    ),
)
def test_any_signed_garbage_gets_an_answer_not_an_error(line, url, params):
    params = {k: v.replace("\x00", "") for k, v in params.items()}
    response = signed(Client(), url, params)
    assert response.status_code in (200, 400), response.content


# ---- Twilio's published signature vectors, through our own webhook -------------------

urlpatterns = [path("myapp.php", views.voice)]


@pytest.mark.urls("casedesk.phone.tests.test_signatures_and_garbage")
def test_the_published_vectors_pass_or_fail_our_webhook_as_twilio_says(corpora, db, settings):
    vectors = json.loads((corpora / "twilio" / "request-validator-vectors.json").read_text())
    checked = 0
    for case in vectors["cases"]:
        if case.get("body") is not None or not isinstance(case.get("params"), dict):
            continue  # JSON-body webhooks and repeated keys: Twilio's voice webhooks send neither
        url = urlsplit(case["url"])
        settings.TWILIO_AUTH_TOKEN = case["auth_token"]
        settings.BASE_URL = f"{url.scheme}://{url.netloc}"
        response = Client().post(
            f"{url.path}?{url.query}",
            case["params"],
            HTTP_X_TWILIO_SIGNATURE=case["x_twilio_signature"],
        )
        assert (response.status_code != 403) == case["expected_valid"], case["id"]
        if case["expected_valid"]:
            # The published parameters are a real voice webhook's: our line answers them.
            assert response.status_code == 200 and b"<Gather" in response.content, case["id"]
        checked += 1
    assert checked >= 5


def test_sms_replies_acknowledge_pages(caller, line, settings):
    """/phone/sms is the on-call SMS handler behind the same signature check."""
    from casedesk.oncall.models import Notification, Page
    from casedesk.oncall.services import escalate
    from casedesk.oncall.tasks import send_notification
    from casedesk.oncall.twilio_standin import TwilioStandIn

    twilio = TwilioStandIn(auth_token=TOKEN).start()
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_API_BASE = twilio.account_sid, twilio.base_url
    settings.TWILIO_FROM_NUMBER = "+15555550199"
    try:
        with at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC)):
            caller.ring()
            caller.press("1")
            page = Page.objects.get()
            escalate(page.pk, 0)  # the first step's task: Pat is notified
            for notification in Notification.objects.filter(page=page, person=line["pat"]):
                send_notification.call(notification.pk)  # the texts Pat answers
            params = {
                "From": PAT_PHONE,
                "Body": "ack",
                "To": "+15555550199",
                "MessageSid": "SM" + sid()[2:],
            }
            response = signed(Client(), "/phone/sms", params)
    finally:
        twilio.stop()
    assert response.status_code == 200 and b"Acknowledged page" in response.content
    assert b"<Message>" in response.content
    page.refresh_from_db()
    assert (page.status, page.acknowledged_via) == ("acknowledged", "sms")


@pytest.mark.parametrize("script_name", ["", "/support"])
def test_a_base_url_with_a_path_prefix_signs_and_links_under_the_prefix(
    line, settings, script_name
):
    """casedesk behind https://desk.example.com/support: Twilio signs the prefixed URL,
    whether the proxy strips the prefix or passes it on as SCRIPT_NAME, and every action
    URL in the TwiML keeps the prefix (a root-relative one would lose it)."""
    public = BASE + "/support"
    settings.BASE_URL = public
    params = {"CallSid": sid(), "From": "+15555550101", "To": "+15555550100"}
    signature = RequestValidator(TOKEN).compute_signature(public + "/phone/voice", params)
    client = Client()
    answer = client.post(
        "/phone/voice", params, HTTP_X_TWILIO_SIGNATURE=signature, SCRIPT_NAME=script_name
    )
    assert answer.status_code == 200, answer.content
    assert f'action="{public}/phone/voice/menu"' in answer.content.decode()
    # The unprefixed URL's signature is not ours.
    unprefixed = RequestValidator(TOKEN).compute_signature(BASE + "/phone/voice", params)
    refused = client.post(
        "/phone/voice", params, HTTP_X_TWILIO_SIGNATURE=unprefixed, SCRIPT_NAME=script_name
    )
    assert refused.status_code == 403


def test_a_replayed_call_changes_nothing(caller, line):
    """Twilio's signature has no timestamp: a captured /phone/voice (and the menu's
    "1" after it) verifies for ever. The call is keyed by its CallSid, so replaying an
    old call's requests 20 minutes later opens no case, pages no one and leaves the
    call as it ended."""
    from django.forms.models import model_to_dict

    from casedesk.cases.models import Case, Event
    from casedesk.oncall.models import Notification, Page

    with at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC)):
        caller.ring()
        caller.press("1")
        caller.dialed("no-answer")
        caller.status("completed", CallDuration="60", SequenceNumber="3")
    call = Call.objects.get(sid=caller.sid)
    before = model_to_dict(call)
    counts = [m.objects.count() for m in (Call, Case, Event, Page, Notification)]
    with at(datetime(2026, 11, 29, 4, 20, tzinfo=UTC)):
        answers = [caller.ring(), caller.press("1"), caller.press("1", "/phone/voice/account")]
    for answer in answers:
        assert "<Gather" not in answer and "<Dial" not in answer and "<Say" not in answer
    call.refresh_from_db()
    assert model_to_dict(call) == before
    assert [m.objects.count() for m in (Call, Case, Event, Page, Notification)] == counts
