"""Admins set up components, groups, update templates and webhooks here; incidents and
maintenance are worked in the desk (``/desk/status/``), through the services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from casedesk.status.models import (
    Component,
    ComponentGroup,
    Subscriber,
    UpdateTemplate,
    Webhook,
    WebhookDelivery,
)


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin[ComponentGroup]):
    list_display = ["name", "position"]
    list_editable = ["position"]


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin[Component]):
    list_display = ["name", "group", "status", "position", "showcase"]
    list_filter = ["group", "status"]
    list_editable = ["position"]
    # A status changes through incidents and maintenance, so it is recorded for uptime.
    readonly_fields = ["status", "public_id"]


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(admin.ModelAdmin[UpdateTemplate]):
    list_display = ["name", "kind", "update_status"]
    list_filter = ["kind"]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin[Subscriber]):
    list_display = ["email", "scope", "confirmed_at", "created_at"]
    list_filter = ["scope"]
    search_fields = ["email"]
    filter_horizontal = ["components"]


class DeliveryInline(admin.TabularInline[WebhookDelivery, Webhook]):
    model = WebhookDelivery
    fields = ("event", "state", "attempts", "response_status", "error", "created_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin[Webhook]):
    list_display = ["url", "active", "created_at"]
    inlines = [DeliveryInline]
