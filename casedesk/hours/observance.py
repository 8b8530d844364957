"""Holiday rules turned into dates: pure Python, used by the models and bench/.

A rule names a holiday of the ``holidays`` package for a country ("Thanksgiving
Day"), optionally shifted by some days ("Day after Thanksgiving" is
Thanksgiving Day + 1), and says how the closure moves when the day falls on a
weekend:

* ``none``: it stays where it is (a Saturday holiday closes nothing extra);
* ``nearest_weekday``: Saturday moves to Friday, Sunday to Monday (US federal
  practice for New Year's Day, Independence Day, Christmas Day, ...);
* ``previous_free_weekday``: back to the nearest earlier weekday that is not
  already a holiday (company practice for Christmas Eve: when Christmas Day is
  observed on Friday 24 December, Christmas Eve closes Thursday 23rd).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import holidays as holidays_lib

NONE = "none"
NEAREST_WEEKDAY = "nearest_weekday"
PREVIOUS_FREE_WEEKDAY = "previous_free_weekday"
OBSERVANCES = (NONE, NEAREST_WEEKDAY, PREVIOUS_FREE_WEEKDAY)

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Rule:
    name: str
    source_name: str
    offset_days: int = 0
    observance: str = NEAREST_WEEKDAY

    def __post_init__(self) -> None:
        if self.observance not in OBSERVANCES:
            raise ValueError(f"observance must be one of {', '.join(OBSERVANCES)}")


@lru_cache(maxsize=32)
def country_holidays(
    country: str, subdivision: str, first_year: int, last_year: int
) -> dict[str, tuple[dt.date, ...]]:
    """Map holiday name -> actual (not observed) dates, from the holidays package."""
    source = holidays_lib.country_holidays(
        country,
        subdiv=subdivision or None,
        years=range(first_year, last_year + 1),
        categories=holidays_lib.country_holidays(country).supported_categories,
        observed=False,
    )
    by_name: dict[str, list[dt.date]] = {}
    for day, names in source.items():
        for name in names.split("; "):
            by_name.setdefault(name, []).append(day)
    return {name: tuple(sorted(days)) for name, days in by_name.items()}


def known_names(country: str, subdivision: str = "") -> list[str]:
    """Names a rule may refer to, for forms and error messages."""
    return sorted(country_holidays(country, subdivision, 2020, 2030))


def expand(
    rules: Iterable[Rule],
    *,
    country: str,
    subdivision: str = "",
    first_year: int,
    last_year: int,
    extra: Mapping[dt.date, str] | None = None,
) -> dict[dt.date, str]:
    """Every closed date from 1 January ``first_year`` to 31 December ``last_year``.

    1. Place the rules that stay put or move to the nearest weekday, for one
       year either side (an observed date can cross New Year).
    2. Add the ``extra`` single dates (company days, imports).
    3. Move each ``previous_free_weekday`` rule back past weekends and past
       the dates already taken in steps 1 and 2.
    4. Keep the dates inside the range; names of one date are joined with "; ".
    """
    found: dict[dt.date, list[str]] = {}

    def add(day: dt.date, name: str) -> None:
        if name not in found.setdefault(day, []):
            found[day].append(name)

    rules = list(rules)
    source = (
        country_holidays(country, subdivision, first_year - 1, last_year + 1)
        if rules and country
        else {}
    )
    later = []
    for rule in rules:
        for base in source.get(rule.source_name, ()):
            day = base + dt.timedelta(days=rule.offset_days)
            if rule.observance == PREVIOUS_FREE_WEEKDAY:
                later.append((rule, day))
                continue
            moved = day
            if rule.observance == NEAREST_WEEKDAY:
                if day.weekday() == 5:
                    moved = day - _DAY
                elif day.weekday() == 6:
                    moved = day + _DAY
            add(moved, f"{rule.name} (observed)" if moved != day else rule.name)
    for day, name in (extra or {}).items():
        add(day, name)
    for rule, day in later:
        moved = day
        while moved.weekday() >= 5 or moved in found:
            moved -= _DAY
        add(moved, f"{rule.name} (observed)" if moved != day else rule.name)
    return {
        day: "; ".join(names)
        for day, names in sorted(found.items())
        if first_year <= day.year <= last_year
    }
