from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from casedesk.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    InboundSms,
    Layer,
    LayerMember,
    Notification,
    NotificationRule,
    Override,
    Page,
    PageCase,
    PageStep,
    Schedule,
)


class LayerInline(admin.StackedInline[Layer, Any]):
    model = Layer
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin[Schedule]):
    list_display = ["name", "time_zone", "fallback"]
    exclude = ["feed_token"]
    inlines = [LayerInline]


class MemberInline(admin.TabularInline[LayerMember, Any]):
    model = LayerMember
    extra = 1


class OverrideInline(admin.TabularInline[Override, Any]):
    model = Override
    extra = 0


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin[Layer]):
    list_display = ["__str__", "every_days", "handoff_time", "start_date"]
    inlines = [MemberInline, OverrideInline]


class StepInline(admin.TabularInline[EscalationStep, Any]):
    model = EscalationStep
    extra = 0


@admin.register(EscalationPolicy)
class PolicyAdmin(admin.ModelAdmin[EscalationPolicy]):
    list_display = ["name", "schedule", "repeat", "is_default"]
    inlines = [StepInline]


@admin.register(NotificationRule)
class RuleAdmin(admin.ModelAdmin[NotificationRule]):
    list_display = ["person", "channel", "delay"]


class ReadOnly(admin.ModelAdmin[Any]):
    """Pages change only through oncall.services; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PageCaseInline(admin.TabularInline[PageCase, Any]):
    model = PageCase
    extra = 0
    can_delete = False
    readonly_fields = ["case", "joined_at"]


@admin.register(Page)
class PageAdmin(ReadOnly):
    list_display = ["code", "organization", "status", "opened_at", "acknowledged_by"]
    list_filter = ["status"]
    inlines = [PageCaseInline]


@admin.register(PageStep)
class PageStepAdmin(ReadOnly):
    list_display = ["page", "key", "level", "at", "outcome"]


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ["page", "person", "channel", "due_at", "status", "sent_at"]
    list_filter = ["status", "channel"]


@admin.register(InboundSms)
class InboundSmsAdmin(ReadOnly):
    list_display = ["received_at", "from_number", "body", "answer"]
    search_fields = ["from_number", "sid"]
