"""90-day uptime bars from recorded status changes, in the page's zone, across DST."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from hypothesis import given
from hypothesis import strategies as st

from casedesk.status import presenters, services, uptime
from casedesk.status.models import ComponentStatus

CT = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")
STATUSES = list(ComponentStatus.values)


def test_a_day_when_clocks_spring_forward_has_23_hours():
    # 2026-03-08 in Chicago: 02:00 CST jumps to 03:00 CDT.
    now = datetime(2026, 3, 9, 12, 0, tzinfo=CT)
    down = datetime(2026, 3, 8, 0, 0, tzinfo=CT)
    up = datetime(2026, 3, 8, 12, 30, tzinfo=CT)  # 11.5 real hours later
    bars = uptime.day_bars(
        [(down, "major_outage"), (up, "operational")],
        initial="operational",
        start=now - timedelta(days=30),
        now=now,
        zone=CT,
        days=3,
    )
    by_day = {bar.day: bar for bar in bars}
    assert by_day[date(2026, 3, 8)].share == 0.5  # 11.5 of 23 hours
    assert by_day[date(2026, 3, 8)].worst == "major_outage"
    assert by_day[date(2026, 3, 7)].share == 1.0


def test_a_day_when_clocks_fall_back_has_25_hours():
    now = datetime(2026, 11, 2, 12, 0, tzinfo=CT)
    down = datetime(2026, 11, 1, 0, 0, tzinfo=CT)
    up = down.astimezone(UTC) + timedelta(hours=5)  # five real hours (01:00 comes twice)
    bars = uptime.day_bars(
        [(down, "partial_outage"), (up, "operational")],
        initial="operational",
        start=now - timedelta(days=30),
        now=now,
        zone=CT,
        days=2,
    )
    assert bars[0].day == date(2026, 11, 1)
    assert bars[0].share == 1 - 5 / 25


def test_days_before_the_uptime_start_have_no_data_and_today_counts_only_so_far():
    now = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
    bars = uptime.day_bars(
        [(datetime(2026, 6, 10, 3, 0, tzinfo=UTC), "major_outage")],
        initial="operational",
        start=datetime(2026, 6, 9, 0, 0, tzinfo=UTC),
        now=now,
        zone=UTC,
        days=4,
    )
    assert [bar.share for bar in bars[:2]] == [None, None]
    assert bars[2].share == 1.0
    assert bars[3].share == 0.5  # down 3 of the 6 hours so far
    assert bars[0].percent == "no data"
    assert uptime.share_up(bars) == 0.75


def test_maintenance_counts_as_up_and_degraded_as_down():
    now = datetime(2026, 6, 2, 0, 0, tzinfo=UTC)
    day = datetime(2026, 6, 1, tzinfo=UTC)
    bars = uptime.day_bars(
        [
            (day + timedelta(hours=6), "under_maintenance"),
            (day + timedelta(hours=12), "degraded_performance"),
        ],
        initial="operational",
        start=day - timedelta(days=5),
        now=now,
        zone=UTC,
        days=2,
    )
    assert bars[0].share == 0.5
    assert bars[0].worst == "degraded_performance"


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10 * 24 * 60), st.sampled_from(STATUSES)),
        max_size=30,
    ),
    st.sampled_from(STATUSES),
    st.sampled_from(["UTC", "America/Chicago", "Australia/Lord_Howe", "Asia/Kathmandu"]),
)
def test_every_share_is_a_fraction_and_a_steady_status_gives_all_or_nothing(
    changes, initial, zone_name
):
    zone = ZoneInfo(zone_name)
    origin = datetime(2026, 3, 1, tzinfo=UTC)
    now = origin + timedelta(days=10, hours=5)
    timeline = sorted((origin + timedelta(minutes=m), s) for m, s in changes)
    bars = uptime.day_bars(timeline, initial=initial, start=origin, now=now, zone=zone, days=12)
    assert len(bars) == 12
    for bar in bars:
        assert bar.share is None or 0.0 <= bar.share <= 1.0 + 1e-9
    if not timeline:
        expected = 1.0 if initial in uptime.UP else 0.0
        assert all(bar.share in (None, expected) for bar in bars)


def test_the_page_rows_come_from_the_recorded_changes(components, incident, agent):
    start = datetime(2026, 3, 7, 18, 0, tzinfo=CT)
    with time_machine.travel(start, tick=False):
        made = incident(web="major_outage")
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        services.post_update(made, services.Posting("resolved", "Fixed."), agent)
    for component in components.values():
        component.created_at = start - timedelta(days=100)
        component.save()
    rows = presenters.component_rows(CT, now=datetime(2026, 3, 9, 12, 0, tzinfo=CT))
    web = next(r for g in rows for r in g.rows if r.component.name == "Web app")
    by_day = {bar.day: bar for bar in web.bars}
    assert by_day[date(2026, 3, 7)].share == 18 / 24
    # Resolved at 01:00 CST on the 8th, a day of 23 hours (clocks spring forward).
    assert by_day[date(2026, 3, 8)].share == 22 / 23
    assert len(web.bars) == presenters.UPTIME_DAYS
    api_row = next(r for g in rows for r in g.rows if r.component.name == "API")
    assert all(bar.share == 1.0 for bar in api_row.bars)
