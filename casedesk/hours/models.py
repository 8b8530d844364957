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
from typing import Any

import holidays as holidays_lib
from django.core.exceptions import ValidationError
from django.db import models

from casedesk.hours import observance as rules_engine
from casedesk.lib.names import CALENDAR_NAME_MAX_LENGTH, is_time_zone


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


def validate_time_zone(value: str) -> None:
    if not is_time_zone(value):
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
        max_length=CALENDAR_NAME_MAX_LENGTH,
        unique=True,
        help_text='How code and URLs refer to it, e.g. "default".',
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
        adding = self._state.adding
        if not adding and kwargs.get("update_fields") is None:
            # Never write back a version read earlier: touch() owns it.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "version"
            ]
        super().save(*args, **kwargs)
        if not adding:  # a new calendar has no cached clocks to make stale
            self.touch()

    def touch(self) -> None:
        """Mark every cached clock built from this calendar as stale.

        An UPDATE with F() so concurrent bumps (an admin save racing an .ics
        import) add up instead of overwriting each other. Code that changes
        a calendar's rows without signals (QuerySet.update, bulk_create) must
        call this.
        """
        Calendar.objects.filter(pk=self.pk).update(version=models.F("version") + 1)
        self.refresh_from_db(fields=["version"])

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
        return rules_engine.expand(
            [rule.as_rule() for rule in self.rules.all()],
            country=self.holiday_country,
            subdivision=self.holiday_subdivision,
            first_year=first_year,
            last_year=last_year,
            extra={holiday.date: holiday.name for holiday in self.holidays.all()},
        )


class Observance(models.TextChoices):
    NONE = rules_engine.NONE, "Stays on the weekend"
    NEAREST_WEEKDAY = rules_engine.NEAREST_WEEKDAY, "Saturday to Friday, Sunday to Monday"
    PREVIOUS_FREE_WEEKDAY = rules_engine.PREVIOUS_FREE_WEEKDAY, "Back to the last free weekday"


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
    observance = models.CharField(
        max_length=32,
        choices=Observance.choices,
        default=Observance.NEAREST_WEEKDAY,
        help_text="Where the closure moves when the day falls on a weekend.",
    )

    class Meta:
        ordering = ["calendar", "id"]

    def __str__(self) -> str:
        return self.name

    def as_rule(self) -> rules_engine.Rule:
        return rules_engine.Rule(self.name, self.source_name, self.offset_days, self.observance)

    def clean(self) -> None:
        calendar = getattr(self, "calendar", None)
        if calendar is None or not calendar.holiday_country:
            raise ValidationError("Set the calendar's holiday country before adding rules.")
        names = rules_engine.known_names(calendar.holiday_country, calendar.holiday_subdivision)
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
