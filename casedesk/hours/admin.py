from __future__ import annotations

from django.conf import settings
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

    def has_delete_permission(self, request: HttpRequest, obj: Calendar | None = None) -> bool:
        # The default calendar and the 24x7 clock are what every page and due
        # time is computed from; they may be edited, never deleted.
        if obj is not None and obj.name in {settings.CASEDESK_DEFAULT_CALENDAR, "24x7"}:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Calendar | None = None) -> list[str]:
        # Code and settings refer to calendars by name: renaming one would cut them off.
        return [*self.readonly_fields, "name"] if obj is not None else list(self.readonly_fields)
