"""The one ``YYYY-MM`` parser (a month, or a MonthError that says what to write) and the
month arithmetic the reports share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.months import MonthError, month_span, next_month, parse_month

pytestmark = pytest.mark.no_database  # pure helpers: the PostgreSQL pass skips it


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-11", date(2026, 11, 1)), ("2000-01", date(2000, 1, 1)), ("2100-12", date(2100, 12, 1))],
)
def test_a_month_is_the_first_of_that_month(text: str, month: date) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Write the month as YYYY-MM"),
        ("2026-1", "Write the month as YYYY-MM"),
        (" 2026-11", "Write the month as YYYY-MM"),
        ("2026-11\x00", "Write the month as YYYY-MM"),
        ("٢٠٢٦-١١", "Write the month as YYYY-MM"),  # Arabic-Indic digits
        ("2026-13", "There is no month 13"),
        ("2026-00", "There is no month 00"),
        ("1999-12", "Choose a year from 2000 to 2100"),
        ("2101-01", "Choose a year from 2000 to 2100"),
    ],
)
def test_anything_else_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(MonthError, match=message):
        parse_month(text)


def test_a_caller_can_narrow_the_years() -> None:
    with pytest.raises(MonthError, match="from 2000 to 2026"):
        parse_month("2027-01", last_year=2026)


@given(st.text(max_size=12))
def test_any_text_is_a_month_written_exactly_so_or_a_month_error(text: str) -> None:
    try:
        month = parse_month(text)
    except MonthError as exc:
        assert str(exc)
    else:
        assert month.day == 1
        assert f"{month:%Y-%m}" == text


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_every_month_in_range_reads_back(day: date) -> None:
    assert parse_month(f"{day:%Y-%m}") == day.replace(day=1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 11, 30)))
def test_the_next_month_starts_the_day_after_this_one_ends(day: date) -> None:
    month = day.replace(day=1)
    following = next_month(month)
    assert following.day == 1
    assert (following - timedelta(days=1)).replace(day=1) == month


def test_a_month_span_runs_from_local_midnight_to_local_midnight_across_a_clock_change() -> None:
    chicago = ZoneInfo("America/Chicago")
    start, end = month_span(date(2026, 11, 1), chicago)
    assert (start, end) == (
        datetime(2026, 11, 1, tzinfo=chicago),
        datetime(2026, 12, 1, tzinfo=chicago),
    )
    # 30 days and the hour 1 November gave back (the same tzinfo subtracts wall clocks).
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=30, hours=1)
    assert month_span(date(2026, 12, 1), chicago)[1] == datetime(2027, 1, 1, tzinfo=chicago)
