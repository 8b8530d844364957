"""The calendars casedesk ships with: the default support policy and a 24x7 clock.

The default is the policy of PRODUCT.md: Monday to Friday, 07:00-19:00 US Central
time, closed on the US holidays a vendor usually observes. Everything here is
data; admins change it in the admin.

Used by the data migration (with historical models), by `casedesk demo` and by
tests whose database was flushed. It only uses fields that exist since
``hours.0001_initial``; when a later migration changes them, give 0002 its own
frozen copy of this function.
"""

from __future__ import annotations

from typing import Any

WEEKDAYS = range(0, 5)

# (shown name, holidays package name, days after it, where it moves off a weekend)
DEFAULT_RULES = [
    ("New Year's Day", "New Year's Day", 0, "nearest_weekday"),
    ("Memorial Day", "Memorial Day", 0, "nearest_weekday"),
    ("Independence Day", "Independence Day", 0, "nearest_weekday"),
    ("Labor Day", "Labor Day", 0, "nearest_weekday"),
    ("Thanksgiving Day", "Thanksgiving Day", 0, "nearest_weekday"),
    ("Day after Thanksgiving", "Thanksgiving Day", 1, "none"),
    # A company day: back to the last working day that is not already closed
    # (Thursday 23rd when Christmas Day is observed on Friday 24th).
    ("Christmas Eve", "Christmas Eve", 0, "previous_free_weekday"),
    ("Christmas Day", "Christmas Day", 0, "nearest_weekday"),
]


def seed_calendars(calendar_model: Any, interval_model: Any, rule_model: Any) -> list[str]:
    """Create the shipped calendars that are missing; return the names created.

    An existing calendar is left exactly as an admin left it.
    """
    created_names = []
    default, created = calendar_model.objects.get_or_create(
        name="default",
        defaults={
            "title": "Support hours",
            "time_zone": "America/Chicago",
            "holiday_country": "US",
        },
    )
    if created:
        created_names.append(default.name)
        interval_model.objects.bulk_create(
            interval_model(calendar=default, weekday=day, start="07:00", end="19:00")
            for day in WEEKDAYS
        )
        rule_model.objects.bulk_create(
            rule_model(
                calendar=default,
                name=name,
                source_name=source,
                offset_days=offset,
                observance=moves,
            )
            for name, source, offset, moves in DEFAULT_RULES
        )

    always, created = calendar_model.objects.get_or_create(
        name="24x7",
        defaults={"title": "Around the clock (critical cases)", "time_zone": "UTC"},
    )
    if created:
        created_names.append(always.name)
        interval_model.objects.bulk_create(
            interval_model(calendar=always, weekday=day, start="00:00", end="24:00")
            for day in range(7)
        )
    return created_names


def ensure_calendars() -> list[str]:
    """`seed_calendars` with the current models."""
    from casedesk.hours.models import Calendar, HolidayRule, OpeningInterval

    return seed_calendars(Calendar, OpeningInterval, HolidayRule)
