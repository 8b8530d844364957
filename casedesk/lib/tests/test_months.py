"""The one ``YYYY-MM`` parser: a month, or a MonthError that says what to write."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.months import MonthError, parse_month


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
