"""Business calendars: weekly hours in a time zone, plus holidays.

A calendar's holidays come from two places:

* :class:`HolidayRule` rows name a holiday of the ``holidays`` package for the
  calendar's country ("Thanksgiving Day"), optionally shifted by some days
  ("Day after Thanksgiving" is Thanksgiving Day + 1) and moved off weekends
  the way US employers observe them (Saturday to Friday, Sunday to Monday).
  Rules work for every year, so nobody has to remember to add next year's.
* :class:`Holiday` rows are single dates: company days, one-off closures and
  what ``casedesk hours import-ics`` brings in.

Every change bumps ``Calendar.version`` (see ``signals.py``), which is how each
process knows its cached :class:`~casedesk.hours.clock.BusinessClock` is stale.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from functools import lru_cache
from typing import Any

import holidays as holidays_lib
from django.core.exceptions import ValidationError
from django.db import models


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def validate_hhmm(value: str) -> None:
    if not _HHMM.match(value or ""):
        raise ValidationError(
            "%(value)s is not a time of day; write it as HH:MM, from 00:00 to 24:00.",
            params={"value": value},
        )


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _known_zones():
        raise ValidationError(
            "%(value)s is not a known time zone; use an IANA name such as America/Chicago.",
            params={"value": value},
        )


def validate_country(value: str) -> None:
    if value and value not in holidays_lib.list_supported_countries():
        raise ValidationError(
            "%(value)s is not a country the holidays package knows; use a code such as US.",
            params={"value": value},
        )


class Calendar(models.Model):
    name = models.SlugField(
        max_length=50, unique=True, help_text='How code and URLs refer to it, e.g. "default".'
    )
    title = models.CharField(max_length=200, help_text="Shown to customers, e.g. Support hours.")
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. America/Chicago."
    )
    holiday_country = models.CharField(
        max_length=8,
        blank=True,
        validators=[validate_country],
        help_text="Country whose holidays the rules below refer to (e.g. US); blank for none.",
    )
    holiday_subdivision = models.CharField(
        max_length=16, blank=True, help_text="State or province code, if its holidays apply."
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.title} ({self.name})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            self.version += 1  # cached clocks built from the old version are now stale
        super().save(*args, **kwargs)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        if self.holiday_country and self.holiday_subdivision:
            try:
                holidays_lib.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision, years=2000
                )
            except NotImplementedError:
                raise ValidationError(
                    {
                        "holiday_subdivision": f"{self.holiday_country} has no subdivision "
                        f"{self.holiday_subdivision}."
                    }
                ) from None

    def weekly(self) -> dict[int, list[tuple[str, str]]]:
        """The weekly hours as ``BusinessClock`` takes them."""
        week: dict[int, list[tuple[str, str]]] = {}
        for interval in self.intervals.all():
            week.setdefault(interval.weekday, []).append((interval.start, interval.end))
        return week

    def holidays_between(self, first_year: int, last_year: int) -> dict[datetime.date, str]:
        """Every holiday from 1 January ``first_year`` to 31 December ``last_year``.

        Dates are local calendar dates in the calendar's zone; when two
        holidays fall on one date their names are joined.
        """
        found: dict[datetime.date, list[str]] = {}

        def add(day: datetime.date, name: str) -> None:
            if first_year <= day.year <= last_year and name not in found.setdefault(day, []):
                found[day].append(name)

        rules = list(self.rules.all())
        if rules and self.holiday_country:
            # One year either side: an observed date can cross New Year.
            source = _country_holidays(
                self.holiday_country, self.holiday_subdivision, first_year - 1, last_year + 1
            )
            for rule in rules:
                for day in source.get(rule.source_name, ()):
                    closed_on = rule.apply(day)
                    moved = closed_on != day + datetime.timedelta(days=rule.offset_days)
                    add(closed_on, f"{rule.name} (observed)" if moved else rule.name)
        for holiday in self.holidays.all():
            add(holiday.date, holiday.name)
        return {day: "; ".join(names) for day, names in sorted(found.items())}


@lru_cache(maxsize=32)
def _country_holidays(
    country: str, subdivision: str, first_year: int, last_year: int
) -> dict[str, tuple[datetime.date, ...]]:
    """Map holiday name -> actual (not observed) dates, from the holidays package."""
    source = holidays_lib.country_holidays(
        country,
        subdiv=subdivision or None,
        years=range(first_year, last_year + 1),
        categories=holidays_lib.country_holidays(country).supported_categories,
        observed=False,
    )
    by_name: dict[str, list[datetime.date]] = {}
    for day, names in source.items():
        for name in names.split("; "):
            by_name.setdefault(name, []).append(day)
    return {name: tuple(sorted(days)) for name, days in by_name.items()}


def known_holiday_names(country: str, subdivision: str = "") -> list[str]:
    """Names a :class:`HolidayRule` may refer to, for forms and error messages."""
    return sorted(_country_holidays(country, subdivision, 2020, 2030))


class OpeningInterval(models.Model):
    """One stretch of open time on a weekday, [start, end) in the calendar's zone."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="intervals")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.CharField(max_length=5, validators=[validate_hhmm], help_text="HH:MM")
    end = models.CharField(
        max_length=5, validators=[validate_hhmm], help_text="HH:MM; 24:00 is the end of the day."
    )

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start}-{self.end}"

    def clean(self) -> None:
        if _HHMM.match(self.start or "") and _HHMM.match(self.end or ""):
            if self.start == "24:00":
                raise ValidationError({"start": "An interval cannot start at 24:00."})
            if self.end <= self.start:
                raise ValidationError({"end": "The end must be later than the start."})


class HolidayRule(models.Model):
    """A holiday observed every year, taken from the holidays package."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200, help_text="As customers see it.")
    source_name = models.CharField(
        max_length=200,
        help_text='The holidays package\'s name for the base day, e.g. "Thanksgiving Day".',
    )
    offset_days = models.SmallIntegerField(
        default=0, help_text="Days after the base day (1 for the day after Thanksgiving)."
    )
    observed = models.BooleanField(
        default=True,
        help_text="When the day falls on a Saturday close the Friday before; on a Sunday, "
        "the Monday after.",
    )

    class Meta:
        ordering = ["calendar", "id"]

    def __str__(self) -> str:
        return self.name

    def apply(self, day: datetime.date) -> datetime.date:
        day += datetime.timedelta(days=self.offset_days)
        if self.observed:
            if day.weekday() == Weekday.SATURDAY:
                day -= datetime.timedelta(days=1)
            elif day.weekday() == Weekday.SUNDAY:
                day += datetime.timedelta(days=1)
        return day

    def clean(self) -> None:
        calendar = getattr(self, "calendar", None)
        if calendar is None or not calendar.holiday_country:
            raise ValidationError("Set the calendar's holiday country before adding rules.")
        names = known_holiday_names(calendar.holiday_country, calendar.holiday_subdivision)
        if self.source_name not in names:
            raise ValidationError(
                {
                    "source_name": f"{calendar.holiday_country} has no holiday named "
                    f"{self.source_name!r}. Known names: {', '.join(names)}."
                }
            )


class Holiday(models.Model):
    """A single closed date: a company day, a one-off closure, an imported holiday."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="one_holiday_per_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}"
