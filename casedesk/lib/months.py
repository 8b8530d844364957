"""Calendar months written ``YYYY-MM`` (a ``month`` query parameter, an ``<input type=month>``).

Pure Python, like the rest of ``casedesk.lib``. One parser for every page that takes a
month; each caller decides what a bad month means for it (a 400 that says what to write,
a 404, or its default month).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

# ASCII digits only: ``\d`` would take any script's digits, which int() then accepts.
MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2100


class MonthError(ValueError):
    """Text that is not a month we can show; the message says what to write."""


def parse_month(text: str, first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> date:
    """``2026-11`` -> 1 November 2026. Anything else raises :class:`MonthError`.

    The text is taken as it is: a caller that accepts surrounding spaces strips them.
    """
    match = MONTH_RE.fullmatch(text)
    if match is None:
        raise MonthError("Write the month as YYYY-MM, for example 2026-11.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise MonthError(f"There is no month {month:02d}; use 01 to 12.")
    if not first_year <= year <= last_year:
        raise MonthError(f"Choose a year from {first_year} to {last_year}.")
    return date(year, month, 1)


def next_month(month: date) -> date:
    """The first day of the month after ``month``'s."""
    if month.month == 12:
        return date(month.year + 1, 1, 1)
    return date(month.year, month.month + 1, 1)


def month_span(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants ``month``'s calendar month starts and ends at in ``zone``."""
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    return start, datetime.combine(next_month(month), time(), tzinfo=zone)
