"""Status callbacks that arrive twice or out of order never move a call or a leg back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from casedesk.cases.models import EventKind
from casedesk.phone import progress
from casedesk.phone.models import Call, Leg
from casedesk.phone.tests.conftest import PAT_PHONE, at, case_of, sid

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
IN_ORDER = [("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]


def test_the_calls_end_is_recorded_once_whatever_the_order(caller, line):
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        caller.status("completed", CallDuration="75", SequenceNumber="3")
        caller.status("in-progress", SequenceNumber="2")  # late
        caller.status("completed", CallDuration="75", SequenceNumber="3")  # again
        caller.status("ringing")  # late, unnumbered
    call = Call.objects.get(sid=caller.sid)
    assert (call.status, call.duration_seconds, call.status_sequence) == ("completed", 75, 3)
    ends = case_of(call).events.filter(kind=EventKind.CALL, body__startswith="Call from")
    assert ends.count() == 1


def test_leg_callbacks_in_any_order_end_in_the_same_state(caller, line):
    with at(SATURDAY_NIGHT):
        caller.ring()
        caller.press("1")
        leg_sid = sid()
        shuffled = [IN_ORDER[3], IN_ORDER[1], IN_ORDER[3], IN_ORDER[0], IN_ORDER[2]]
        for status, number in shuffled:
            params = {"CallStatus": status, "SequenceNumber": str(number), "To": PAT_PHONE}
            if status == "completed":
                params["CallDuration"] = "31"
            caller.engineer("/phone/voice/leg", leg_sid, **params)
    leg = Leg.objects.get()
    assert (leg.sid, leg.status, leg.duration_seconds, leg.status_sequence) == (
        leg_sid,
        "completed",
        31,
        3,
    )
    assert leg.ended_at is not None


def test_a_callback_for_an_unknown_call_is_answered_and_ignored(line):
    from django.test import Client

    from casedesk.phone.tests.conftest import signed

    response = signed(
        Client(), "/phone/voice/status", {"CallSid": sid(), "CallStatus": "completed"}
    )
    assert response.status_code == 200
    assert not Call.objects.exists()


@given(
    st.lists(st.sampled_from(IN_ORDER), min_size=1, max_size=8).map(
        lambda seen: [*seen, IN_ORDER[-1]]
    ),
    st.randoms(),
)
def test_any_arrival_order_ends_at_the_furthest_status(seen, random):
    arrivals = list(seen)
    random.shuffle(arrivals)
    held = progress.Progress("queued", -1)
    for status, number in arrivals:
        held = progress.advance(held, status, number) or held
    assert held.status == "completed"
    assert held.sequence == 3


def test_a_terminal_status_is_final_and_repeats_are_dropped():
    done = progress.Progress("busy", 2)
    for status, number in itertools.product(progress.STATUSES, [None, 1, 3, 9]):
        assert progress.advance(done, status, number) is None
    ringing = progress.Progress("ringing", 1)
    assert progress.advance(ringing, "ringing", 2) is None
    assert progress.advance(ringing, "in-progress", 1) is None  # numbered as old
    assert progress.advance(ringing, "in-progress", None) == progress.Progress("in-progress", 1)


def test_a_repeated_dial_action_about_an_earlier_leg_changes_nothing(caller, line):
    """Twilio retries the Dial action for Pat (or someone replays it) while Kim's phone
    rings: it is answered with nothing, Kim keeps ringing, and her own result moves on."""
    from casedesk.phone.models import LegOutcome
    from casedesk.phone.tests.conftest import AVERY_PHONE, KIM_PHONE

    with at(SATURDAY_NIGHT):
        caller.ring()
        assert PAT_PHONE in caller.press("1")
        pat_leg = sid()
        assert KIM_PHONE in caller.dialed("no-answer", pat_leg)  # Kim's phone now rings
        again = caller.dialed("no-answer", pat_leg)
        assert again.endswith("<Response />"), again
        kim = Call.objects.get(sid=caller.sid).legs.get(position=2)
        assert (kim.outcome, kim.sid) == (LegOutcome.RINGING, None)
        # Kim's own result still counts: Avery is next.
        assert AVERY_PHONE in caller.dialed("no-answer", sid())
    call = Call.objects.get(sid=caller.sid)
    assert [leg.outcome for leg in call.legs.all()] == [
        LegOutcome.NO_ANSWER,
        LegOutcome.NO_ANSWER,
        LegOutcome.RINGING,
    ]
