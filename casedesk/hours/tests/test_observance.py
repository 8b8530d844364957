"""Holiday rules to dates: how a closure moves when its day falls on a weekend."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk.hours.defaults import DEFAULT_RULES
from casedesk.hours.observance import (
    NEAREST_WEEKDAY,
    NONE,
    PREVIOUS_FREE_WEEKDAY,
    Rule,
    expand,
)

DEFAULT = [Rule(*row) for row in DEFAULT_RULES]


def us(rules, year, extra=None):
    return expand(rules, country="US", first_year=year, last_year=year, extra=extra)


def test_nearest_weekday_moves_saturday_to_friday_and_sunday_to_monday():
    rule = Rule("Independence Day", "Independence Day", 0, NEAREST_WEEKDAY)
    assert us([rule], 2026) == {dt.date(2026, 7, 3): "Independence Day (observed)"}  # Sat
    assert us([rule], 2027) == {dt.date(2027, 7, 5): "Independence Day (observed)"}  # Sun


def test_none_leaves_a_weekend_holiday_on_the_weekend():
    rule = Rule("Independence Day", "Independence Day", 0, NONE)
    assert us([rule], 2026) == {dt.date(2026, 7, 4): "Independence Day"}


def test_an_offset_counts_days_after_the_base_holiday():
    rule = Rule("Day after Thanksgiving", "Thanksgiving Day", 1, NONE)
    assert us([rule], 2026) == {dt.date(2026, 11, 27): "Day after Thanksgiving"}


def test_previous_free_weekday_skips_days_already_closed_including_company_days():
    eve = Rule("Christmas Eve", "Christmas Eve", 0, PREVIOUS_FREE_WEEKDAY)
    company = {dt.date(2026, 12, 24): "Inventory"}
    assert us([eve], 2026, extra=company) == {
        dt.date(2026, 12, 23): "Christmas Eve (observed)",
        dt.date(2026, 12, 24): "Inventory",
    }


def test_an_observed_date_may_fall_in_the_year_before():
    rule = Rule("New Year's Day", "New Year's Day", 0, NEAREST_WEEKDAY)
    assert us([rule], 2027) == {
        dt.date(2027, 1, 1): "New Year's Day",
        dt.date(2027, 12, 31): "New Year's Day (observed)",  # 1 January 2028 is a Saturday
    }
    assert us([rule], 2028) == {}


def test_an_unknown_observance_is_refused():
    with pytest.raises(ValueError, match="observance must be one of"):
        Rule("x", "Christmas Day", 0, "whenever")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1990, max_value=2090))
def test_the_default_policy_closes_eight_weekdays_a_year_and_never_a_weekend_day(year):
    days = us(DEFAULT, year)
    weekdays = [day for day in days if day.weekday() < 5]
    # Eight holidays, each on its own weekday, except when New Year's Day of the
    # next year is observed on 31 December (nine) or this year's was (seven).
    assert 7 <= len(weekdays) <= 9
    moved = [day for day, name in days.items() if "(observed)" in name]
    assert all(day.weekday() < 5 for day in moved)
    assert all(day.year == year for day in days)
