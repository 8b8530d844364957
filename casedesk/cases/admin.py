from __future__ import annotations

from django.contrib import admin

from casedesk.cases.models import Attachment, Case, Event, Priority


@admin.register(Priority)
class PriorityAdmin(admin.ModelAdmin[Priority]):
    list_display = [
        "name",
        "position",
        "first_response_target",
        "resolution_target",
        "clock",
        "served_after_hours",
        "is_critical",
        "is_default",
    ]
    list_editable = ["position"]

    def has_delete_permission(self, request: object, obj: Priority | None = None) -> bool:
        # A priority with cases is PROTECTed anyway; this keeps the button from offering it.
        return obj is None or not obj.cases.exists()


class EventInline(admin.TabularInline[Event, Case]):
    model = Event
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "at",
        "kind",
        "public",
        "author",
        "old_value",
        "new_value",
        "reason",
        "body",
    )

    def has_add_permission(self, request: object, obj: Case | None = None) -> bool:
        return False


class AttachmentInline(admin.TabularInline[Attachment, Case]):
    model = Attachment
    extra = 0
    can_delete = False
    fields = readonly_fields = ("name", "size", "content_type", "public", "uploaded_by", "at")

    def has_add_permission(self, request: object, obj: Case | None = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    """Read-only: cases change only through cases.services (the desk), so the SLA
    fields and the timeline always agree."""

    list_display = ["__str__", "organization", "priority", "status", "assignee", "opened_at"]
    list_filter = ["status", "priority", "channel", "opened_after_hours"]
    search_fields = ["subject", "requester__email", "organization__name"]
    list_select_related = ["organization", "priority", "assignee"]
    inlines = [EventInline, AttachmentInline]
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: Case | None = None) -> bool:
        return False
