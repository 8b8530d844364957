"""Pat does not answer, Kim's voicemail picks up, Avery refuses: the caller is told the team
was paged and leaves a message, noted on the case once (the file itself: see
test_voicemail_becomes_a_case_file)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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


TUESDAY_MORNING = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # Tue 10:00 Central, in hours


@pytest.mark.django_db(transaction=True)
def test_in_hours_without_coverage_the_caller_is_promised_what_happened(
    caller, line, run_tasks, mailoutbox
):
    """A business-hours plan: in hours the rota is dialed, but no page can go out. The
    caller is not told of a page; every agent gets a mail with the case instead."""
    acme = line["acme"]
    acme.after_hours_coverage = False
    acme.save()
    with at(TUESDAY_MORNING):
        caller.ring()
        caller.press("1")
        for _ in range(3):
            message = caller.dialed("no-answer", sid())
    assert "has been paged" not in message
    assert "Support has your case and will call you back" in message and "<Record" in message
    case = case_of(Call.objects.get(sid=caller.sid))
    assert not Page.objects.filter(page_cases__case=case).exists()
    run_tasks()
    notices = [m for m in mailoutbox if "Emergency call nobody took" in m.subject]
    assert len(notices) == 1 and case.reference in notices[0].subject
    assert line["avery"].email in notices[0].to  # an admin of the rota, among the agents
    assert f"/desk/cases/{case.reference}/" in notices[0].body
    assert "no after-hours coverage" in notices[0].body


def test_without_anyone_to_dial_the_caller_goes_straight_to_the_message(caller, line):
    """No escalation policy: nobody to dial and nobody to page. Not "Connecting you" then
    "Nobody could take your call": the message at once, and no promise of a page."""
    from casedesk.oncall.models import EscalationPolicy

    EscalationPolicy.objects.all().delete()
    with at(TUESDAY_MORNING):
        caller.ring()
        message = caller.press("1")
    assert "Connecting you" not in message and "<Dial" not in message
    assert "has been paged" not in message
    assert "Support has your case" in message and "<Record" in message
    assert not Page.objects.exists()
    assert Call.objects.get(sid=caller.sid).stage == Stage.VOICEMAIL


def test_engineers_without_a_phone_are_not_announced(caller, line):
    for person in (line["pat"], line["kim"], line["avery"]):
        person.phone = ""
        person.save()
    with at(SATURDAY_NIGHT):
        caller.ring()
        message = caller.press("1")
    assert "Connecting you" not in message and "<Dial" not in message
    assert "The on-call team has been paged" in message  # after hours the page is open
