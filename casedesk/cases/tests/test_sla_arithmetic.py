"""Due times: in hours, after hours, over a holiday, pauses, priority changes and DST weekends.

Support hours in the default policy: Monday to Friday 07:00-19:00 America/Chicago,
with US holidays (Thanksgiving 2026 is Thursday 26 November, and the day after
is a company holiday). Critical runs on the 24x7 clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk.cases import services
from casedesk.cases.models import Status
from casedesk.cases.sla import due_after
from casedesk.hours.clock import BusinessClock

CT = ZoneInfo("America/Chicago")


def ct(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CT)


def frozen(at: datetime) -> time_machine.travel:
    return time_machine.travel(at, tick=False)


pytestmark = pytest.mark.django_db


def test_a_high_case_in_hours_is_due_four_hours_later(alice, open_case):
    with frozen(ct(2026, 12, 1, 10, 0)):
        case = open_case(alice, "High")
    assert case.first_response_due == ct(2026, 12, 1, 14, 0)
    assert not case.opened_after_hours
    assert case.next_due == case.first_response_due


def test_a_high_case_late_on_friday_is_due_on_monday_morning(alice, open_case):
    with frozen(ct(2026, 12, 4, 18, 0)):
        case = open_case(alice, "High")
    # One hour on Friday, three on Monday from 07:00.
    assert case.first_response_due == ct(2026, 12, 7, 10, 0)


def test_a_case_opened_on_saturday_waits_for_monday_and_is_marked_after_hours(alice, open_case):
    with frozen(ct(2026, 12, 5, 11, 0)):
        case = open_case(alice, "Medium")
    assert case.opened_after_hours
    # Medium is 12 business hours: all of Monday.
    assert case.first_response_due == ct(2026, 12, 7, 19, 0)


def test_the_clock_skips_thanksgiving_and_the_day_after(alice, open_case):
    with frozen(ct(2026, 11, 25, 17, 0)):
        case = open_case(alice, "High")
    # Two hours on Wednesday, Thursday and Friday are holidays, two on Monday.
    assert case.first_response_due == ct(2026, 11, 30, 9, 0)


def test_a_critical_case_on_a_saturday_is_due_two_hours_later_around_the_clock(alice, open_case):
    with frozen(ct(2026, 11, 28, 3, 15)):
        case = open_case(alice, "Critical")
    assert case.first_response_due == ct(2026, 11, 28, 5, 15)
    assert case.resolution_due == ct(2026, 11, 29, 3, 15)
    assert case.opened_after_hours


def test_a_critical_case_across_the_spring_forward_night_is_due_two_real_hours_later(
    alice, open_case
):
    # 01:30 CST on 14 March 2027; at 02:00 the clocks jump to 03:00 CDT.
    with frozen(ct(2027, 3, 14, 1, 30)):
        case = open_case(alice, "Critical")
    assert case.first_response_due - case.opened_at == timedelta(hours=2)
    assert case.first_response_due.astimezone(CT).hour == 4  # 04:30 CDT on the wall


def test_a_high_case_over_the_dst_weekend_counts_wall_clock_business_hours(alice, open_case):
    with frozen(ct(2027, 3, 12, 17, 0)):  # Friday, CST
        case = open_case(alice, "High")
    # Two hours on Friday; Monday opens at 07:00 CDT (12:00 UTC, an hour earlier in UTC).
    assert case.first_response_due == ct(2027, 3, 15, 9, 0)
    assert case.first_response_due == datetime(2027, 3, 15, 14, 0, tzinfo=UTC)


def test_the_fall_back_weekend_too(alice, open_case):
    with frozen(ct(2026, 10, 30, 18, 0)):  # Friday, CDT; Sunday 1 November falls back
        case = open_case(alice, "High")
    assert case.first_response_due == ct(2026, 11, 2, 10, 0)
    assert case.first_response_due == datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


def test_pending_customer_pauses_the_resolution_clock_and_the_reply_resumes_it(
    alice, agent, open_case
):
    with frozen(ct(2026, 12, 1, 7, 0)):  # Tuesday at opening time
        case = open_case(alice, "Medium")
    # 60 business hours: Tuesday to the next Monday, 19:00.
    assert case.resolution_due == ct(2026, 12, 7, 19, 0)

    with frozen(ct(2026, 12, 1, 9, 0)):
        services.add_reply(case, agent, "Can you send the log?", status=Status.PENDING)
    case.refresh_from_db()
    assert case.status == Status.PENDING
    assert case.resolution_due is None
    assert case.paused_since == ct(2026, 12, 1, 9, 0)
    assert case.next_due is None  # first response given, resolution paused

    with frozen(ct(2026, 12, 2, 9, 0)):
        services.add_reply(case, alice, "Here it is.")
    case.refresh_from_db()
    assert case.status == Status.OPEN
    assert case.paused_since is None
    # Paused 10 business hours on Tuesday and 2 on Wednesday: 12 hours later.
    assert case.resolution_due == ct(2026, 12, 8, 19, 0)
    assert case.next_due == case.resolution_due


def test_two_pauses_add_up(alice, agent, open_case):
    with frozen(ct(2026, 12, 1, 7, 0)):
        case = open_case(alice, "Medium")
    for pause, resume in [
        (ct(2026, 12, 1, 8, 0), ct(2026, 12, 1, 10, 0)),
        (ct(2026, 12, 2, 18, 0), ct(2026, 12, 3, 8, 0)),
    ]:
        with frozen(pause):
            services.change_status(case, Status.PENDING, agent)
        with frozen(resume):
            services.add_reply(case, alice, "Done.")
    case.refresh_from_db()
    # Paused 2 business hours on Tuesday, then 1 on Wednesday and 1 on Thursday.
    assert case.resolution_due == ct(2026, 12, 8, 11, 0)


def test_a_priority_change_recomputes_due_times_from_the_start(alice, agent, open_case):
    with frozen(ct(2026, 12, 1, 10, 0)):
        case = open_case(alice, "Low")
    assert case.first_response_due == ct(2026, 12, 3, 10, 0)
    with frozen(ct(2026, 12, 1, 11, 0)):
        case = services.change_priority(
            case, _priority("High"), agent, "Checkout is down for some."
        )
    assert case.first_response_due == ct(2026, 12, 1, 14, 0)


def test_raising_a_case_to_critical_moves_it_to_the_24x7_clock(alice, agent, open_case):
    with frozen(ct(2026, 12, 4, 18, 0)):
        case = open_case(alice, "Medium")
    with frozen(ct(2026, 12, 4, 18, 30)):
        case = services.change_priority(case, _priority("Critical"), agent, "All users are out.")
    assert case.first_response_due == ct(2026, 12, 4, 20, 0)


def test_the_first_public_reply_by_support_stops_the_response_clock(alice, agent, open_case):
    with frozen(ct(2026, 12, 1, 10, 0)):
        case = open_case(alice, "High")
    with frozen(ct(2026, 12, 1, 10, 30)):
        services.add_note(case, agent, "Looking at the logs first.")
    case.refresh_from_db()
    assert case.first_responded_at is None  # an internal note is not a response
    with frozen(ct(2026, 12, 1, 10, 40)):
        services.add_reply(case, alice, "Any news?")
    case.refresh_from_db()
    assert case.first_responded_at is None  # nor is the customer's own message
    with frozen(ct(2026, 12, 1, 11, 0)):
        services.add_reply(case, agent, "We are on it.")
    case.refresh_from_db()
    assert case.first_responded_at == ct(2026, 12, 1, 11, 0)
    assert case.status == Status.OPEN
    assert case.next_due == case.resolution_due


def test_resolving_stops_every_clock_and_reopening_restarts_it(alice, agent, open_case):
    with frozen(ct(2026, 12, 1, 10, 0)):
        case = open_case(alice, "High")
        services.add_reply(case, agent, "Fixed.", status=Status.RESOLVED)
    case.refresh_from_db()
    assert case.next_due is None and case.resolved_at is not None
    with frozen(ct(2026, 12, 1, 12, 0)):
        services.add_reply(case, alice, "It is back.")
    case.refresh_from_db()
    assert case.status == Status.OPEN and case.resolved_at is None
    assert case.next_due == case.resolution_due


def _priority(name: str):
    from casedesk.cases.models import Priority

    return Priority.objects.get(name=name)


# ---- Properties of due_after, on a pure clock (no database) -------------------------

WEEKDAYS = {day: [("07:00", "19:00")] for day in range(5)}
CLOCK = BusinessClock("America/Chicago", WEEKDAYS, [date(2026, 11, 26), date(2026, 12, 25)])
BASE = datetime(2026, 10, 20, tzinfo=UTC)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def paused_cases(draw: st.DrawFn) -> tuple[datetime, timedelta, list[tuple[datetime, datetime]]]:
    minutes = st.integers(0, 60 * 24 * 40)
    start = BASE + timedelta(minutes=draw(minutes))
    target = timedelta(minutes=draw(st.integers(1, 60 * 100)))
    cuts = sorted(draw(st.lists(minutes, max_size=8, unique=True)))
    cuts = cuts[: len(cuts) // 2 * 2]
    pauses = [
        (start + timedelta(minutes=cuts[i]), start + timedelta(minutes=cuts[i + 1]))
        for i in range(0, len(cuts), 2)
    ]
    return start, target, pauses


def counted(start: datetime, end: datetime, pauses: list[tuple[datetime, datetime]]) -> timedelta:
    total = CLOCK.between(start, end)
    for began, ended in pauses:
        began, ended = max(began, start), min(ended, end)
        if began < ended:
            total -= CLOCK.between(began, ended)
    return total


@PROPERTY
@given(paused_cases())
def test_the_due_instant_is_the_first_at_which_unpaused_open_time_reaches_the_target(case):
    start, target, pauses = case
    due = due_after(CLOCK, start, target, pauses)
    assert due is not None
    assert counted(start, due, pauses) == target
    assert counted(start, due - timedelta(microseconds=1), pauses) < target


@PROPERTY
@given(paused_cases())
def test_pauses_never_bring_the_due_instant_forward(case):
    start, target, pauses = case
    due = due_after(CLOCK, start, target, pauses)
    assert due is not None and due >= CLOCK.add(start, target)


def test_a_running_pause_before_the_due_instant_leaves_no_due_instant():
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert due_after(CLOCK, start, timedelta(hours=4), [(start, None)]) is None


def test_a_running_pause_after_the_due_instant_does_not_hide_the_deadline():
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    late = start + timedelta(days=3)
    assert due_after(CLOCK, start, timedelta(hours=4), [(late, None)]) == CLOCK.add(
        start, timedelta(hours=4)
    )


def test_time_spent_resolved_does_not_count_when_the_customer_reopens(alice, agent, open_case):
    with frozen(ct(2026, 12, 1, 9, 0)):
        case = open_case(alice, "High")
    assert case.resolution_due == ct(2026, 12, 3, 9, 0)  # 24 business hours
    with frozen(ct(2026, 12, 1, 10, 0)):
        services.add_reply(case, agent, "Fixed, I think.", status=Status.RESOLVED)
    case.refresh_from_db()
    assert case.resolution_due is None and case.paused_since is None
    with frozen(ct(2026, 12, 11, 10, 0)):  # ten days later
        services.add_reply(case, alice, "It is back.")
    case.refresh_from_db()
    # One business hour had run; 23 are left from Friday 11 December 10:00.
    assert case.resolution_due == ct(2026, 12, 15, 9, 0)
    assert not case.resolution_breached


def test_the_status_event_of_a_reply_has_the_replys_time(alice, agent, open_case):
    case = open_case(alice, "High")
    received = ct(2026, 12, 1, 9, 0)
    services.add_reply(case, agent, "Done.", status=Status.RESOLVED, at=received)
    assert set(case.events.exclude(kind="opened").values_list("at", flat=True)) == {received}


def test_editing_a_priority_changes_new_cases_not_the_deadlines_of_open_ones(
    alice, agent, open_case, priorities
):
    with frozen(ct(2026, 12, 1, 10, 0)):
        before = open_case(alice, "Low")
    priorities["Low"].first_response_target = timedelta(hours=1)
    priorities["Low"].save()
    with frozen(ct(2026, 12, 1, 10, 30)):
        services.add_note(before, agent, "An unrelated note recomputes the deadlines.")
        after = open_case(alice, "Low")
    before.refresh_from_db()
    assert before.first_response_due == ct(2026, 12, 3, 10, 0)  # the 24 hours it was given
    assert after.first_response_due == ct(2026, 12, 1, 11, 30)


def test_time_spent_resolved_without_a_reply_does_not_use_up_the_first_response_target(
    alice, agent, open_case
):
    with frozen(ct(2026, 12, 1, 9, 0)):
        case = open_case(alice, "High")
    with frozen(ct(2026, 12, 1, 9, 30)):
        services.change_status(case, Status.RESOLVED, agent, "Duplicate of CD-1000.")
    with frozen(ct(2026, 12, 11, 10, 0)):
        services.add_reply(case, alice, "It is not a duplicate.")
    case.refresh_from_db()
    # Half an hour had run; three and a half are left from Friday 10:00.
    assert case.first_response_due == ct(2026, 12, 11, 13, 30)
    assert case.next_due == case.first_response_due


def test_the_confirmation_and_pages_show_the_target_the_case_was_given(
    alice, open_case, priorities
):
    from casedesk.cases.presenters import acknowledgement

    case = open_case(alice, "Low")
    priorities["Low"].first_response_target = timedelta(hours=1)
    priorities["Low"].save()
    case.refresh_from_db()
    assert case.first_response_text == "24 business hours"
    assert acknowledgement(case, CT).target == "24 business hours"
