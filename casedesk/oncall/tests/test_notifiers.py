"""The notifiers: the real twilio client against the local stand-in, mail, and the console;
each transport's failures sorted into retryable and permanent."""

from __future__ import annotations

import socket

import pytest

from casedesk.core.retry import PermanentError, RetryableError
from casedesk.oncall.models import Channel
from casedesk.oncall.notifiers import (
    ConsoleNotifier,
    EmailNotifier,
    Message,
    TwilioSmsNotifier,
    TwilioVoiceNotifier,
    notifier_for,
)


def message(channel: str = Channel.SMS, to: str = "+15555550111") -> Message:
    return Message(
        channel=channel,
        to=to,
        name="Pat Primary",
        text="casedesk CRITICAL Acme: reply 1",
        subject="Critical after hours",
        ack_url="https://desk.example.com/oncall/ack/x/",
        voice_url="https://desk.example.com/oncall/voice/x/",
        context={
            "page": None,
            "cases": [],
            "person": None,
            "ack_url": "u",
            "alarm": False,
            "base_url": "https://desk.example.com",
            "zone": None,
        },
    )


def test_an_sms_goes_through_the_twilio_client_to_the_configured_api_base(standin):
    sid = TwilioSmsNotifier().send(message())
    [request] = standin.sent("Messages")
    assert sid.startswith("SM") and len(sid) == 34
    assert request.path == f"/2010-04-01/Accounts/{standin.account_sid}/Messages.json"
    assert request.form == {
        "To": "+15555550111",
        "From": "+15555550199",
        "Body": "casedesk CRITICAL Acme: reply 1",
    }


def test_a_call_asks_twilio_to_fetch_our_twiml_by_post(standin):
    sid = TwilioVoiceNotifier().send(message(Channel.VOICE))
    [request] = standin.sent("Calls")
    assert sid.startswith("CA")
    assert request.form["Url"] == "https://desk.example.com/oncall/voice/x/"
    assert request.form["Method"] == "POST"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_twilio_is_worth_another_try(standin, status):
    standin.fail_next(status, 20429 if status == 429 else 20500)
    with pytest.raises(RetryableError, match=str(status)):
        TwilioSmsNotifier().send(message())


def test_an_invalid_number_is_permanent(standin):
    with pytest.raises(PermanentError, match="21211"):
        TwilioSmsNotifier().send(message(to="+1555"))


def test_a_rejected_credential_is_permanent(standin, settings):
    settings.TWILIO_AUTH_TOKEN = "wrong-token"
    with pytest.raises(PermanentError, match="401"):
        TwilioVoiceNotifier().send(message(Channel.VOICE))


def test_twilio_out_of_reach_is_worth_another_try(standin, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{port}"  # nobody listens there
    with pytest.raises(RetryableError):
        TwilioSmsNotifier().send(message())


def test_a_person_without_a_phone_number_cannot_get_an_sms(standin):
    with pytest.raises(PermanentError, match="no phone number"):
        TwilioSmsNotifier().send(message(to=""))
    assert standin.requests == []


def test_in_production_without_a_twilio_account_sms_and_calls_fail_as_not_configured(
    settings,
):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.DEBUG = False
    for channel in (Channel.SMS, Channel.VOICE):
        with pytest.raises(PermanentError, match="Twilio is not configured"):
            notifier_for(channel)
    assert isinstance(notifier_for(Channel.EMAIL), EmailNotifier)


def test_in_debug_without_a_twilio_account_sms_and_calls_are_printed_on_the_console(
    settings, capsys
):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.DEBUG = True
    assert isinstance(notifier_for(Channel.SMS), ConsoleNotifier)
    assert isinstance(notifier_for(Channel.VOICE), ConsoleNotifier)
    notifier_for(Channel.VOICE).send(message(Channel.VOICE))
    out = capsys.readouterr().out
    assert "[on-call voice call to Pat Primary +15555550111]" in out
    assert "acknowledge: https://desk.example.com/oncall/ack/x/" in out


def test_with_an_account_sms_and_calls_go_to_twilio_and_mail_by_mail(standin):
    assert isinstance(notifier_for(Channel.SMS), TwilioSmsNotifier)
    assert isinstance(notifier_for(Channel.VOICE), TwilioVoiceNotifier)
    assert isinstance(notifier_for(Channel.EMAIL), EmailNotifier)
    with pytest.raises(PermanentError):
        notifier_for("pigeon")


def test_a_mail_server_out_of_reach_is_worth_another_try(settings, db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    with pytest.raises(RetryableError, match="could not send"):
        EmailNotifier().send(message(Channel.EMAIL, "pat@example.com"))


def test_a_page_by_mail_goes_out_with_its_templates(db, mailoutbox):
    EmailNotifier().send(message(Channel.EMAIL, "pat@example.com"))
    [mail] = mailoutbox
    assert mail.to == ["pat@example.com"]


def test_the_standin_refuses_garbage_like_twilio(standin):
    import requests

    bad_path = requests.post(standin.base_url + "/2010-04-01/nothing", timeout=5)
    assert bad_path.status_code == 404 and bad_path.json()["code"] == 20404
    no_auth = requests.post(
        f"{standin.base_url}/2010-04-01/Accounts/{standin.account_sid}/Messages.json",
        data={"To": "+15555550111", "Body": "x"},
        timeout=5,
    )
    assert no_auth.status_code == 401 and no_auth.json()["code"] == 20003
    no_body = requests.post(
        f"{standin.base_url}/2010-04-01/Accounts/{standin.account_sid}/Messages.json",
        data={"To": "+15555550111", "From": "+15555550199"},
        auth=(standin.account_sid, standin.auth_token),
        timeout=5,
    )
    assert no_body.status_code == 400 and no_body.json()["code"] == 21602
    assert standin.sent() == []
