from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from casedesk.hours.models import Calendar, Holiday, HolidayRule, OpeningInterval


class OpeningIntervalInline(admin.TabularInline[OpeningInterval, Calendar]):
    model = OpeningInterval
    extra = 0


class HolidayRuleInline(admin.TabularInline[HolidayRule, Calendar]):
    model = HolidayRule
    extra = 0


class HolidayInline(admin.TabularInline[Holiday, Calendar]):
    model = Holiday
    extra = 0


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin[Calendar]):
    list_display = ["name", "title", "time_zone", "holiday_country", "updated_at"]
    inlines = [OpeningIntervalInline, HolidayRuleInline, HolidayInline]
    fields = [
        "name",
        "title",
        "time_zone",
        "holiday_country",
        "holiday_subdivision",
        "version",
        "updated_at",
    ]
    readonly_fields = ["version", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Calendar | None = None) -> list[str]:
        # Code and settings refer to calendars by name: renaming one would cut them off.
        return [*self.readonly_fields, "name"] if obj is not None else list(self.readonly_fields)
