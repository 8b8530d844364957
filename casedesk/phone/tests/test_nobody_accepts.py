"""Pat does not answer, Kim's voicemail picks up, Avery refuses: the caller is told the team
was paged and leaves a message, noted on the case once (the file itself: see
test_voicemail_becomes_a_case_file)."""

from __future__ import annotations

from datetime import UTC, datetime

from casedesk.cases.models import EventKind
from casedesk.oncall.models import Page
from casedesk.phone.models import Call, CallOutcome, LegOutcome, Stage
from casedesk.phone.tests.conftest import AVERY_PHONE, KIM_PHONE, PAT_PHONE, at, case_of, sid

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "a" * 32


def test_the_line_tries_each_responder_then_takes_a_message(caller, line, settings):
    settings.PHONE_RECORD_MAX_SECONDS = 300
    with at(SATURDAY_NIGHT):
        caller.ring()
        assert PAT_PHONE in caller.press("1")
        # Pat: no answer in 25 seconds.
        to_kim = caller.dialed("no-answer")
        assert "Trying the next person" in to_kim and KIM_PHONE in to_kim
        # Kim's voicemail answers: machine detection says so, the whisper hangs up.
        kim = sid()
        machine = caller.engineer("/phone/voice/whisper", kim, AnsweredBy="machine_start")
        assert "<Hangup" in machine and "Press 1" not in machine
        to_avery = caller.dialed("completed", kim, "4")
        assert AVERY_PHONE in to_avery
        # Avery hears the whisper and presses 2.
        avery = sid()
        caller.engineer("/phone/voice/whisper", avery, AnsweredBy="human")
        refused = caller.engineer("/phone/voice/accept", avery, Digits="2")
        assert "Not accepted" in refused and "<Hangup" in refused
        message = caller.dialed("completed", avery, "9")
        assert "The on-call team has been paged" in message
        assert '<Record action="https://desk.example.com/phone/voice/recorded"' in message
        assert 'maxLength="300"' in message and "up to 5 minutes" in message
        assert 'recordingStatusCallback="https://desk.example.com/phone/voice/recording"' in message

        params = {
            "RecordingSid": "RE" + "a" * 32,
            "RecordingUrl": RECORDING,
            "RecordingDuration": "42",
        }
        assert "has your message" in caller.post("/phone/voice/recorded", **params)
        caller.post("/phone/voice/recording", RecordingStatus="completed", **params)
        caller.post("/phone/voice/recording", RecordingStatus="completed", **params)  # twice
        caller.status("completed", CallDuration="130")

    call = Call.objects.get(sid=caller.sid)
    assert (call.outcome, call.stage, call.recording_seconds) == (
        CallOutcome.VOICEMAIL,
        Stage.DONE,
        42,
    )
    assert [(leg.person, leg.outcome) for leg in call.legs.all()] == [
        (line["pat"], LegOutcome.NO_ANSWER),
        (line["kim"], LegOutcome.MACHINE),
        (line["avery"], LegOutcome.REFUSED),
    ]
    voicemails = case_of(call).events.filter(kind=EventKind.CALL, body__startswith="Voicemail")
    assert [e.body for e in voicemails] == [
        "Voicemail from +15555550101 (42 s), recording RE" + "a" * 32 + ": it is copied into "
        "the case's files."
    ]
    assert not voicemails.get().public
    # Nobody answered: the case still waits for its first response and its page escalates.
    case_of(call).refresh_from_db()
    assert case_of(call).first_responded_at is None
    assert Page.objects.get(page_cases__case=case_of(call)).status == "open"


def test_a_caller_who_hangs_up_while_it_rings_ends_the_leg_as_canceled(caller, line):
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        caller.status("completed", CallDuration="20")
        # Twilio still posts the Dial's action after the hang-up: it changes nothing.
        assert "<Hangup" in caller.dialed("canceled")
    call = Call.objects.get(sid=caller.sid)
    assert call.outcome == CallOutcome.NO_MESSAGE
    assert [leg.outcome for leg in call.legs.all()] == [LegOutcome.CANCELED]


def test_in_hours_nobody_accepting_pages_the_team(caller, line):
    """In hours a critical call is not paged when it opens (support is at work), but if
    nobody of the rota accepts, the page opens so a human still hears of it."""
    tuesday_noon = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    with at(tuesday_noon):
        assert "For a critical emergency" in caller.ring()
        caller.press("1")
        case = Call.objects.get(sid=caller.sid).case
        assert not Page.objects.filter(page_cases__case=case).exists()
        caller.dialed("no-answer")
        caller.dialed("busy")
        assert "<Record" in caller.dialed("no-answer")
    assert Page.objects.filter(page_cases__case=case).exists()
