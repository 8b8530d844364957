"""Calendars in the database: the seeded default policy, holiday rules with
observed dates, validation in the admin, and clocks cached until a change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from casedesk.hours.models import Calendar, Holiday, HolidayRule, OpeningInterval
from casedesk.hours.services import (
    UnknownCalendar,
    calendar_named,
    current_calendar,
    versions_held,
)

pytestmark = pytest.mark.django_db
CHICAGO = ZoneInfo("America/Chicago")


def test_the_default_calendar_is_weekdays_7_to_19_central_time():
    calendar = Calendar.objects.get(name="default")
    assert calendar.time_zone == "America/Chicago"
    assert calendar.weekly() == {day: [("07:00", "19:00")] for day in range(5)}


def test_the_default_holidays_2026_are_the_us_holidays_a_vendor_closes_for():
    holidays = Calendar.objects.get(name="default").holidays_between(2026, 2026)
    assert holidays == {
        dt.date(2026, 1, 1): "New Year's Day",
        dt.date(2026, 5, 25): "Memorial Day",
        dt.date(2026, 7, 3): "Independence Day (observed)",  # 4 July 2026 is a Saturday
        dt.date(2026, 9, 7): "Labor Day",
        dt.date(2026, 11, 26): "Thanksgiving Day",
        dt.date(2026, 11, 27): "Day after Thanksgiving",
        dt.date(2026, 12, 24): "Christmas Eve",
        dt.date(2026, 12, 25): "Christmas Day",
    }


def test_a_holiday_on_a_weekend_is_observed_on_the_nearest_weekday_even_across_new_year():
    holidays = Calendar.objects.get(name="default").holidays_between(2027, 2027)
    assert holidays[dt.date(2027, 7, 5)] == "Independence Day (observed)"  # Sunday -> Monday
    assert holidays[dt.date(2027, 12, 24)] == "Christmas Day (observed)"  # 25th is a Saturday
    # Christmas Eve, a company day, moves back to the last weekday still open.
    assert holidays[dt.date(2027, 12, 23)] == "Christmas Eve (observed)"
    # 1 January 2028 is a Saturday: the office closes on Friday 31 December 2027.
    assert holidays[dt.date(2027, 12, 31)] == "New Year's Day (observed)"
    assert dt.date(2028, 1, 1) not in Calendar.objects.get(name="default").holidays_between(
        2028, 2028
    )


def test_christmas_eve_on_a_sunday_closes_the_friday_before():
    holidays = Calendar.objects.get(name="default").holidays_between(2028, 2028)
    assert holidays[dt.date(2028, 12, 22)] == "Christmas Eve (observed)"
    assert dt.date(2028, 12, 24) not in holidays


def test_company_days_add_to_the_rules():
    calendar = Calendar.objects.get(name="default")
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 12, 31), name="Company day")
    assert calendar.holidays_between(2026, 2026)[dt.date(2026, 12, 31)] == "Company day"


def test_the_24x7_calendar_is_always_open():
    clock = calendar_named("24x7").clock
    start = dt.datetime(2026, 12, 25, 3, 0, tzinfo=CHICAGO)
    assert clock.is_open(start)
    assert clock.add(start, dt.timedelta(hours=2)) == start + dt.timedelta(hours=2)


def test_the_current_calendar_answers_with_the_default_policy():
    clock = current_calendar().clock
    thanksgiving_noon = dt.datetime(2026, 11, 26, 12, 0, tzinfo=CHICAGO)
    assert not clock.is_open(thanksgiving_noon)
    assert clock.next_open(thanksgiving_noon) == dt.datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)


def test_an_unknown_calendar_name_is_a_clear_error():
    with pytest.raises(UnknownCalendar, match="no calendar named 'nope'"):
        calendar_named("nope")


def test_a_cached_clock_is_rebuilt_when_the_calendar_changes():
    before = calendar_named("default")
    assert calendar_named("default") is before, "unchanged calendar: cached clock reused"
    calendar = Calendar.objects.get(name="default")
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 12, 30), name="Inventory day")
    after = calendar_named("default")
    assert after is not before
    assert not after.clock.is_open(dt.datetime(2026, 12, 30, 10, 0, tzinfo=CHICAGO))
    assert before.clock.is_open(dt.datetime(2026, 12, 30, 10, 0, tzinfo=CHICAGO))


def test_within_versions_held_each_calendar_is_checked_once(django_assert_num_queries):
    calendar_named("default"), calendar_named("24x7")  # both clocks built
    with django_assert_num_queries(6):  # one small query a call
        for _ in range(3):
            calendar_named("default"), calendar_named("24x7")
    with versions_held():
        with django_assert_num_queries(2):
            for _ in range(3):
                current_calendar(), calendar_named("24x7")
        calendar = Calendar.objects.get(name="default")
        Holiday.objects.create(calendar=calendar, date=dt.date(2026, 12, 30), name="Inventory day")
        held = current_calendar()
        assert held.clock.is_open(dt.datetime(2026, 12, 30, 10, 0, tzinfo=CHICAGO))
    # The next block (the next batch) sees the change.
    with versions_held():
        assert not current_calendar().clock.is_open(dt.datetime(2026, 12, 30, 10, 0, tzinfo=CHICAGO))


def test_changing_the_hours_or_the_zone_bumps_the_version():
    calendar = Calendar.objects.get(name="default")
    version = calendar.version
    interval = calendar.intervals.get(weekday=0)
    interval.end = "17:00"
    interval.save()
    calendar.refresh_from_db()
    assert calendar.version == version + 1
    calendar.time_zone = "America/New_York"
    calendar.save()
    calendar.refresh_from_db()
    assert calendar.version == version + 2
    assert calendar_named("default").zone.key == "America/New_York"


def test_deleting_a_holiday_reopens_the_desk_in_every_process():
    calendar = Calendar.objects.get(name="default")
    holiday = Holiday.objects.create(calendar=calendar, date=dt.date(2026, 12, 30), name="Closed")
    noon = dt.datetime(2026, 12, 30, 12, 0, tzinfo=CHICAGO)
    assert not calendar_named("default").clock.is_open(noon)
    holiday.delete()
    assert calendar_named("default").clock.is_open(noon)


def test_version_bumps_add_up_when_two_changes_race():
    stale = Calendar.objects.get(name="default")
    fresh = Calendar.objects.get(name="default")
    start = fresh.version
    Holiday.objects.create(calendar=fresh, date=dt.date(2026, 12, 30), name="Via import")
    stale.title = "Support hours (edited)"
    stale.save()  # holds the version read before the import's bump
    assert Calendar.objects.get(name="default").version == start + 2


def test_the_shipped_calendars_cannot_be_deleted_in_the_admin(admin_client):
    calendar = Calendar.objects.get(name="default")
    response = admin_client.get(f"/admin/hours/calendar/{calendar.pk}/delete/")
    assert response.status_code == 403
    other = Calendar.objects.create(name="emea", title="EMEA", time_zone="Europe/Dublin")
    assert admin_client.get(f"/admin/hours/calendar/{other.pk}/delete/").status_code == 200


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("7:00", "19:00", "start"),
        ("07:00", "25:00", "end"),
        ("19:00", "07:00", "end"),
        ("24:00", "24:00", "start"),
        ("noon", "19:00", "start"),
    ],
)
def test_an_interval_that_is_not_a_time_range_is_refused_with_a_reason(start, end, field):
    calendar = Calendar.objects.get(name="default")
    interval = OpeningInterval(calendar=calendar, weekday=5, start=start, end=end)
    with pytest.raises(ValidationError) as excinfo:
        interval.full_clean()
    assert field in excinfo.value.message_dict


def test_an_interval_may_end_at_midnight_written_24_00():
    calendar = Calendar.objects.get(name="default")
    OpeningInterval(calendar=calendar, weekday=5, start="20:00", end="24:00").full_clean()


def test_an_unknown_time_zone_is_refused():
    calendar = Calendar(name="x", title="X", time_zone="America/Chikago")
    with pytest.raises(ValidationError) as excinfo:
        calendar.full_clean()
    assert "not a known time zone" in str(excinfo.value.message_dict["time_zone"])


def test_a_holiday_rule_must_name_a_holiday_the_package_knows():
    calendar = Calendar.objects.get(name="default")
    rule = HolidayRule(calendar=calendar, name="Boxing Day", source_name="Boxing Day")
    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    message = str(excinfo.value.message_dict["source_name"])
    assert "US has no holiday named 'Boxing Day'" in message
    assert "Thanksgiving Day" in message, "the error lists the names that would work"


def test_a_country_code_the_holidays_package_does_not_know_is_refused():
    calendar = Calendar(name="x", title="X", time_zone="UTC", holiday_country="XX")
    with pytest.raises(ValidationError) as excinfo:
        calendar.full_clean()
    assert "holiday_country" in excinfo.value.message_dict
