"""Admins see every API token and revoke any of them (a leaked one, a departed
integration); tokens are made by their owners (/accounts/tokens/, `casedesk tokens`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from casedesk.accounts.models import User
from casedesk.api import services
from casedesk.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = [
        "prefix",
        "person",
        "name",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_from",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "person__email", "name"]
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "digest"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.display(description="Scopes")
    def scope_list(self, token: ApiToken) -> str:
        return ", ".join(token.scopes)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, tokens: QuerySet[ApiToken]) -> None:
        by = request.user if isinstance(request.user, User) else None
        done = sum(services.revoke(token, by) for token in tokens)
        messages.success(request, f"Revoked {done} token(s).")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
