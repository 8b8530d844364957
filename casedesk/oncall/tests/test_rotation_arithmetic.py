"""Who is on call when: hand-offs at local wall-clock time across daylight-saving changes,
overrides cut in, gaps found. Pure arithmetic (oncall/rotation.py), checked by hypothesis."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk.oncall.rotation import Override, Rotation, gaps, next_change, on_call, timeline

CT = ZoneInfo("America/Chicago")
# The support calendar's zone changes on these weekends (US rules).
SPRING_2026 = date(2026, 3, 8)
FALL_2026 = date(2026, 11, 1)
SPRING_2027 = date(2027, 3, 14)
FALL_2027 = date(2027, 11, 7)


def daily(*people: str, handoff: time = time(9), every: int = 1) -> Rotation[str]:
    return Rotation(CT, date(2026, 1, 1), handoff, every, tuple(people))


def local(d: date, t: time) -> datetime:
    return datetime.combine(d, t, tzinfo=CT)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(SPRING_2026, 23), (FALL_2026, 25), (SPRING_2027, 23), (FALL_2027, 25)],
)
def test_a_daily_shift_across_a_clock_change_lasts_23_or_25_hours_and_hands_off_at_9(day, hours):
    rota = daily("ann", "ben")
    shifts = rota.shifts(
        local(day - timedelta(days=1), time(9)), local(day + timedelta(days=1), time(9))
    )
    crossing = shifts[0]
    assert crossing.duration == timedelta(hours=hours)
    assert crossing.end.astimezone(CT).time() == time(9)
    assert shifts[1].duration == timedelta(hours=24)


@pytest.mark.parametrize("sunday", [SPRING_2026, FALL_2026, SPRING_2027, FALL_2027])
def test_a_weekly_rotation_hands_off_on_monday_at_9_local_on_both_sides_of_the_change(sunday):
    rota = Rotation(CT, date(2026, 1, 5), time(9), 7, ("ann", "ben", "cat"))
    monday = sunday + timedelta(days=1)
    before = local(monday, time(8, 59, 59))
    after = local(monday, time(9))
    assert on_call(rota, [], before) != on_call(rota, [], after)
    week_before = local(monday - timedelta(days=7), time(9))
    assert rota.shift_index(after) == rota.shift_index(week_before) + 1
    # (Subtract in UTC: Python subtracts two times of one zone on the wall clock.)
    assert after.astimezone(UTC) - week_before.astimezone(UTC) == timedelta(days=7) + (
        timedelta(hours=-1) if sunday in (SPRING_2026, SPRING_2027) else timedelta(hours=1)
    )


def test_a_handoff_inside_the_spring_gap_happens_when_the_clock_would_have_shown_it():
    rota = daily("ann", "ben", handoff=time(2, 30))
    start = rota.shift_start((SPRING_2026 - date(2026, 1, 1)).days)
    # 02:30 does not exist on 8 March 2026: it happens at 08:30 UTC (03:30 daylight time).
    assert start == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)


def test_a_handoff_in_the_repeated_hour_happens_at_the_first_of_the_two():
    rota = daily("ann", "ben", handoff=time(1, 30))
    start = rota.shift_start((FALL_2026 - date(2026, 1, 1)).days)
    assert start == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 CDT, not CST


def test_an_override_takes_its_hours_and_the_rotation_resumes_after():
    rota = daily("ann", "ben")
    saturday = date(2026, 11, 28)
    taken = Override("cat", local(saturday, time(0)), local(saturday + timedelta(days=1), time(0)))
    friday_night = local(saturday, time(0)) - timedelta(hours=1)
    sunday_early = local(saturday + timedelta(days=1), time(6))
    day = timeline(rota, [taken], friday_night, sunday_early)
    assert [(s.person, s.override) for s in day] == [
        (on_call(rota, [], friday_night), False),
        ("cat", True),
        (on_call(rota, [], sunday_early), False),
    ]
    assert day[1].start == local(saturday, time(0))
    assert day[1].duration == timedelta(hours=24)
    assert on_call(rota, [taken], local(saturday, time(12))) == "cat"


def test_the_newest_of_two_overlapping_overrides_wins():
    rota = daily("ann")
    noon = local(date(2026, 12, 5), time(12))
    older = Override("ben", noon - timedelta(hours=4), noon + timedelta(hours=4))
    newer = Override("cat", noon - timedelta(hours=1), noon + timedelta(hours=1))
    assert on_call(rota, [older, newer], noon) == "cat"
    assert on_call(rota, [older, newer], noon + timedelta(hours=2)) == "ben"


def test_a_layer_without_participants_is_one_gap_and_the_next_change_is_none():
    empty: Rotation[str] = Rotation(CT, date(2026, 1, 1), time(9), 7, ())
    start = local(date(2026, 12, 1), time(0))
    found = gaps(timeline(empty, [], start, start + timedelta(days=14)))
    assert [(g.start, g.end) for g in found] == [(start, start + timedelta(days=14))]
    assert next_change(empty, [], start) is None


def test_a_rotation_that_ends_leaves_a_gap_after_its_end():
    end = local(date(2026, 12, 10), time(17))
    rota = Rotation(CT, date(2026, 1, 1), time(9), 1, ("ann",), end=end)
    start = local(date(2026, 12, 9), time(0))
    found = gaps(timeline(rota, [], start, start + timedelta(days=3)))
    assert found[0].start == end


def test_nonsense_rotations_and_naive_instants_are_refused():
    with pytest.raises(ValueError, match="every 1 day"):
        Rotation(CT, date(2026, 1, 1), time(9), 0, ("ann",))
    with pytest.raises(ValueError, match="wall-clock"):
        Rotation(CT, date(2026, 1, 1), time(9, tzinfo=UTC), 1, ("ann",))
    with pytest.raises(ValueError, match="aware"):
        daily("ann").on_call(datetime(2026, 12, 1, 9))
    with pytest.raises(ValueError, match="ends after"):
        Override("ann", local(date(2026, 12, 2), time(9)), local(date(2026, 12, 1), time(9)))


# ---- Properties ----

instants = st.datetimes(
    min_value=datetime(2025, 6, 1), max_value=datetime(2028, 6, 1), timezones=st.just(UTC)
)
rotations = st.builds(
    Rotation,
    zone=st.sampled_from([CT, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), UTC]),
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    handoff=st.times(),
    every_days=st.integers(min_value=1, max_value=21),
    participants=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=5).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(rotation=rotations, start=instants, days=st.integers(min_value=1, max_value=60))
def test_shifts_tile_the_span_exactly_and_agree_with_who_is_on_call(rotation, start, days):
    end = start + timedelta(days=days)
    shifts = rotation.shifts(start, end)
    first = rotation.shift_start(0)
    if not shifts:
        assert first >= end
        return
    assert shifts[0].start == max(start, first)
    assert shifts[-1].end == end
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start and a.start < a.end
    for shift in shifts:
        assert rotation.on_call(shift.start) == shift.person
        assert rotation.on_call(shift.end - timedelta(microseconds=1)) == shift.person


@settings(max_examples=200, deadline=None)
@given(rotation=rotations, k=st.integers(min_value=-50, max_value=400))
def test_every_handoff_is_at_the_local_handoff_time_unless_that_time_does_not_exist(rotation, k):
    start = rotation.shift_start(k)
    wall = start.astimezone(rotation.zone)
    expected_day = rotation.start + timedelta(days=k * rotation.every_days)
    naive = datetime.combine(expected_day, rotation.handoff)
    exists = (
        naive.replace(tzinfo=rotation.zone)
        .astimezone(UTC)
        .astimezone(rotation.zone)
        .replace(tzinfo=None)
        == naive
    )
    if exists:
        assert (wall.date(), wall.time()) == (expected_day, rotation.handoff)
    assert rotation.shift_index(start) == k
    assert rotation.shift_index(start - timedelta(microseconds=1)) == k - 1


@settings(max_examples=150, deadline=None)
@given(
    rotation=rotations,
    start=instants,
    overrides=st.lists(
        st.tuples(
            st.sampled_from("xyz"),
            st.integers(min_value=-48, max_value=24 * 20),
            st.integers(min_value=1, max_value=72),
        ),
        max_size=4,
    ),
    probe=st.integers(min_value=0, max_value=14 * 24 * 60 - 1),
)
def test_the_timeline_with_overrides_covers_the_span_and_matches_on_call(
    rotation, start, overrides, probe
):
    made = [
        Override(person, start + timedelta(hours=h), start + timedelta(hours=h + length))
        for person, h, length in overrides
    ]
    end = start + timedelta(days=14)
    pieces = timeline(rotation, made, start, end)
    assert pieces[0].start == start and pieces[-1].end == end
    for a, b in itertools.pairwise(pieces):
        assert a.end == b.start
        assert (a.person, a.override) != (b.person, b.override)  # merged
    instant = start + timedelta(minutes=probe)
    piece = next(p for p in pieces if p.start <= instant < p.end)
    assert piece.person == on_call(rotation, made, instant)
