"""A voicemail is copied from Twilio (with the account's credentials, through
TWILIO_API_BASE: the stand-in here) into the case's files, so the timeline links a
casedesk URL behind the case's access checks; Twilio's media URL is never shown. Without
a Twilio account (the demo, `casedesk phone simulate`) the case says why, once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from casedesk.cases.models import Attachment, Case, Event, EventKind
from casedesk.phone.models import Call
from casedesk.phone.tests.conftest import Caller, at, case_of, sid

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" * 256  # an mp3's first bytes


def _leave_a_message(caller: Caller, recording_sid: str, url: str) -> None:
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        for _ in range(3):
            caller.dialed("no-answer", sid())
        params = {"RecordingSid": recording_sid, "RecordingUrl": url, "RecordingDuration": "30"}
        caller.post("/phone/voice/recorded", **params)
        caller.post("/phone/voice/recording", RecordingStatus="completed", **params)
        caller.post("/phone/voice/recording", RecordingStatus="completed", **params)  # twice
        caller.status("completed", CallDuration="95")


def _notes_after_a_message(recording: str, url: str, run_tasks) -> tuple[Case, list[Event]]:
    """A message left and the worker run: the case, and its "could not be copied" notes."""
    caller = Caller(Client())
    _leave_a_message(caller, recording, url)
    run_tasks()
    case = case_of(Call.objects.get(sid=caller.sid))
    return case, list(Event.objects.filter(case=case, body__contains="could not be copied"))


def _twilio_urls_in(events) -> list[str]:
    return [e.body for e in events if "api.twilio.com" in e.body or "Recordings/RE" in e.body]


@pytest.mark.django_db(transaction=True)
def test_the_voicemail_is_fetched_into_the_case_files(
    line, standin, settings, run_tasks, desk, bob
):
    from casedesk.phone.tests.conftest import TOKEN

    settings.TWILIO_AUTH_TOKEN = TOKEN  # the webhooks' signatures
    standin.auth_token = TOKEN  # one account: its token signs webhooks and opens media
    recording = "RE" + "c" * 32
    url = standin.add_recording(recording, AUDIO)
    caller = Caller(Client())
    _leave_a_message(caller, recording, url)
    run_tasks()
    run_tasks()  # again: nothing more

    call = Call.objects.get(sid=caller.sid)
    assert call.recording_url == url  # the source stays on the call
    case = case_of(call)
    attachment = Attachment.objects.get(case=case)
    assert (attachment.name, attachment.content_type) == (
        f"voicemail-{recording}.mp3",
        "audio/mpeg",
    )
    assert attachment.event is not None and attachment.event.kind == EventKind.ATTACHMENT
    fetched = [r for r in standin.requests if r.method == "GET"]
    assert [(r.path, r.status) for r in fetched] == [
        (f"/2010-04-01/Accounts/{standin.account_sid}/Recordings/{recording}.mp3", 200)
    ]
    # The casedesk link: an agent downloads it; another organization's customer cannot.
    link = f"/cases/{case.reference}/files/{attachment.pk}/{attachment.name}"
    answer = desk.get(link)
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == AUDIO
    outsider = Client()
    outsider.force_login(bob)
    assert outsider.get(link).status_code == 404
    # Twilio's media URL is nowhere on the timeline, public or internal.
    assert _twilio_urls_in(Event.objects.filter(case=case)) == []


@pytest.mark.django_db(transaction=True)
def test_without_a_twilio_account_the_case_says_why_once(line, settings, run_tasks):
    """The demo: a console notifier and no TWILIO_ACCOUNT_SID. The fetch does not loop:
    one internal note, no file."""
    settings.TWILIO_ACCOUNT_SID = ""
    recording = "RE" + "d" * 32
    url = f"https://api.twilio.com/2010-04-01/Accounts/AC{'5' * 32}/Recordings/{recording}"
    case, notes = _notes_after_a_message(recording, url, run_tasks)
    assert [n.public for n in notes] == [False]
    assert "no Twilio account is configured" in notes[0].body
    assert not Attachment.objects.filter(case=case).exists()
    assert _twilio_urls_in(Event.objects.filter(case=case, public=True)) == []


@pytest.mark.django_db(transaction=True)
def test_a_recording_twilio_does_not_have_is_noted_not_retried(line, standin, settings, run_tasks):
    from casedesk.phone.tests.conftest import TOKEN

    settings.TWILIO_AUTH_TOKEN = standin.auth_token = TOKEN
    recording = "RE" + "e" * 32
    url = f"https://api.twilio.com/2010-04-01/Accounts/{standin.account_sid}/Recordings/{recording}"
    _, notes = _notes_after_a_message(recording, url, run_tasks)  # never had it: 404
    assert len(notes) == 1 and "Twilio answered 404" in notes[0].body
    assert [r.status for r in standin.requests if r.method == "GET"] == [404]


@pytest.mark.django_db(transaction=True)
def test_a_recording_url_of_another_host_or_account_is_never_fetched(
    line, standin, settings, run_tasks
):
    """The RecordingUrl names where to fetch, but only its path under TWILIO_API_BASE and
    only for our own account: our credentials never go to a host a request named."""
    from casedesk.phone.tests.conftest import TOKEN

    settings.TWILIO_AUTH_TOKEN = standin.auth_token = TOKEN
    recording = "RE" + "f" * 32
    url = f"https://evil.example.com/2010-04-01/Accounts/AC{'9' * 32}/Recordings/{recording}"
    _, notes = _notes_after_a_message(recording, url, run_tasks)
    assert len(notes) == 1 and "another Twilio account" in notes[0].body
    assert [r for r in standin.requests if r.method == "GET"] == []


@pytest.mark.django_db(transaction=True)
def test_the_attachment_checks_apply_to_the_voicemail(line, standin, settings, run_tasks):
    """An installation that does not accept mp3 files gets a note saying so, not a file."""
    from casedesk.phone.tests.conftest import TOKEN

    settings.TWILIO_AUTH_TOKEN = standin.auth_token = TOKEN
    settings.ATTACHMENT_TYPES = ["pdf", "txt"]
    recording = "RE" + "0" * 32
    url = standin.add_recording(recording, AUDIO)
    case, notes = _notes_after_a_message(recording, url, run_tasks)
    assert len(notes) == 1 and "this type of file is not accepted" in notes[0].body
    assert not Attachment.objects.filter(case=case).exists()
