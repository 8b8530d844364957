"""Wrong keys repeat the menu three times at most; an unknown number keys in its account
number (three tries); an organization without after-hours coverage is offered voicemail."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client

from casedesk.cases.models import Case
from casedesk.phone.models import Call, CallOutcome, Stage
from casedesk.phone.tests.conftest import PAT_PHONE, STRANGER, Caller, at, case_of

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)


def test_wrong_keys_and_silence_repeat_the_menu_then_say_goodbye(caller, line):
    with at(SATURDAY_NIGHT):
        caller.ring()
        again = caller.press("7")
        assert "not an option" in again and "press 1" in again
        assert "did not hear a key" in caller.press("")
        goodbye = caller.press("*")
        assert "Goodbye" in goodbye and "<Hangup" in goodbye and "<Gather" not in goodbye
        # The call is over in the menu: a late 1 changes nothing.
        assert "<Dial" not in caller.press("1")
    call = Call.objects.get(sid=caller.sid)
    assert (call.menu_attempts, call.outcome, call.stage) == (3, CallOutcome.MENU, Stage.DONE)
    assert not Case.objects.exists()


def test_an_unknown_number_is_asked_for_the_account_number(line):
    caller = Caller(Client(), from_number=STRANGER)
    with at(SATURDAY_NIGHT):
        caller.ring()
        asked = caller.press("1")
        assert "key in your account number" in asked and 'finishOnKey="#"' in asked
        assert "not find" in caller.press("999", "/phone/voice/account")
        assert "not find" in caller.press("12345678#", "/phone/voice/account")
        dialing = caller.press("10042001#", "/phone/voice/account")
    assert PAT_PHONE in dialing
    call = Call.objects.get(sid=caller.sid)
    assert (call.organization, call.account_attempts) == (line["acme"], 2)
    assert case_of(call).organization == line["acme"]


def test_three_wrong_account_numbers_end_the_call(line):
    caller = Caller(Client(), from_number="anonymous")
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        for _ in range(2):
            caller.press("0000", "/phone/voice/account")
        goodbye = caller.press("", "/phone/voice/account")
    assert "portal or by email" in goodbye and "<Hangup" in goodbye
    call = Call.objects.get(sid=caller.sid)
    assert (call.from_number, call.outcome, call.organization) == (
        "",
        CallOutcome.UNIDENTIFIED,
        None,
    )
    caller.status("completed", CallDuration="61")
    call.refresh_from_db()
    assert call.outcome == CallOutcome.UNIDENTIFIED


def test_without_after_hours_coverage_the_caller_may_leave_a_message(caller, line):
    acme = line["acme"]
    acme.after_hours_coverage = False
    acme.save()
    with at(SATURDAY_NIGHT):
        caller.ring()
        heard = caller.press("1")
    assert "does not include after-hours support" in heard
    assert "reopens Monday at 7 AM Central" in heard
    assert "<Record" in heard and "<Dial" not in heard
    call = Call.objects.get(sid=caller.sid)
    assert (call.outcome, call.stage) == (CallOutcome.NO_COVERAGE, Stage.VOICEMAIL)
    assert call.case is not None  # agents see it when support reopens


def test_in_hours_coverage_does_not_matter(caller, line):
    acme = line["acme"]
    acme.after_hours_coverage = False
    acme.save()
    with at(datetime(2026, 12, 1, 18, 0, tzinfo=UTC)):
        caller.ring()
        assert PAT_PHONE in caller.press("1")


def _guess(client_number: str, guesses: tuple[str, ...]) -> tuple[str, list[str]]:
    """One call from ``client_number`` keying in ``guesses``: what pressing 1 said, and
    the answers to each guess."""
    guesser = Caller(Client(), from_number=client_number)
    guesser.ring()
    first = guesser.press("1")
    return first, [guesser.press(guess, "/phone/voice/account") for guess in guesses]


def test_wrong_account_numbers_are_limited_per_calling_number_across_calls(line, caplog):
    """6 wrong account numbers an hour per calling number (CASEDESK_RATE_PHONE_ACCOUNT_TRIES):
    two calls of three tries, then the number is sent to the portal, politely."""
    wrong = ("10000001", "10000002", "10000003")
    with at(SATURDAY_NIGHT):
        for _ in range(2):
            first, answers = _guess(STRANGER, wrong)
            assert "key in your account number" in first
            assert "could not find that account number" in answers[-1]
        third, _ = _guess(STRANGER, ())
    assert "key in your account number" not in third
    assert "portal" in third and "<Hangup" in third
    assert "too many wrong account numbers" in caplog.text
    # Another number is not held back by this one's guesses.
    with at(SATURDAY_NIGHT):
        other, _ = _guess("+15555550178", ())
    assert "key in your account number" in other


def test_right_account_numbers_do_not_count_against_the_caller(line):
    acme = line["acme"]
    with at(SATURDAY_NIGHT):
        for _ in range(7):
            first, answers = _guess(STRANGER, (acme.account_number,))
            assert "key in your account number" in first
            assert PAT_PHONE in answers[0]


def test_the_whole_line_has_a_ceiling_on_wrong_account_numbers(line, settings):
    """Rotating caller IDs does not get round the limit: the line-wide policy
    (CASEDESK_RATE_PHONE_ACCOUNT_TRIES_LINE) stops the next number too."""
    from datetime import timedelta

    from casedesk.lib.env import Rate

    settings.RATE_PHONE_ACCOUNT_TRIES_LINE = Rate(4, timedelta(hours=1))
    with at(SATURDAY_NIGHT):
        _guess("+15555550161", ("10000001", "10000002"))
        _, answers = _guess("+15555550162", ("10000003", "10000004", "10000005"))
        assert "portal" in answers[-1] and "<Hangup" in answers[-1]
        refused, _ = _guess("+15555550163", ())
    assert "key in your account number" not in refused and "portal" in refused
    assert Call.objects.filter(outcome=CallOutcome.UNIDENTIFIED).count() == 2
