from django.contrib import admin

from casedesk.chat.models import CannedReply, ChatSession


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin[CannedReply]):
    list_display = ("title", "body")
    search_fields = ("title", "body")


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin[ChatSession]):
    list_display = ("pk", "customer", "organization", "status", "agent", "created_at", "case")
    list_filter = ("status",)
    raw_id_fields = ("customer", "agent", "case")
    readonly_fields = ("created_at", "accepted_at", "ended_at")
