from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from casedesk.accounts import services
from casedesk.accounts.models import (
    AccountPolicy,
    LockoutEvent,
    Organization,
    OrganizationDomain,
    OrganizationPhone,
    User,
)


class DomainInline(admin.TabularInline[OrganizationDomain, Organization]):
    model = OrganizationDomain
    extra = 1


class PhoneInline(admin.TabularInline[OrganizationPhone, Organization]):
    model = OrganizationPhone
    extra = 1


class PeopleInline(admin.TabularInline[User, Organization]):
    model = User
    fields = ("email", "full_name", "is_active", "last_login")
    readonly_fields = ("email", "full_name", "is_active", "last_login")
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "people (add them under Users)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "account_number", "after_hours_coverage", "domain_list")
    list_filter = ("after_hours_coverage",)
    search_fields = ("name", "account_number", "domains__domain", "phones__number")
    inlines = (DomainInline, PhoneInline, PeopleInline)

    @admin.display(description="email domains")
    def domain_list(self, obj: Organization) -> str:
        return ", ".join(d.domain for d in obj.domains.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).prefetch_related("domains")


class PersonCreationForm(AdminUserCreationForm):
    """Add a person; leave the password blank to invite them to set their own."""

    class Meta:
        model = User
        fields = ("email", "full_name", "role", "organization")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["usable_password"].initial = "false"


class PersonChangeForm(UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "full_name",
            "role",
            "organization",
            "phone",
            "time_zone",
            "is_active",
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    add_form = PersonCreationForm
    form = PersonChangeForm
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "organization", "is_active", "last_login")
    list_filter = ("role", "is_active", "organization")
    search_fields = ("email", "full_name", "organization__name")
    readonly_fields = ("last_login", "date_joined", "invited_at")
    filter_horizontal = ()
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "role", "organization", "phone", "time_zone")}),
        ("Access", {"fields": ("is_active",)}),
        ("Dates", {"fields": ("last_login", "date_joined", "invited_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "full_name",
                    "role",
                    "organization",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    actions = ("send_invitation", "reset_two_factor")

    @admin.action(description="Email an invitation to set a password")
    def send_invitation(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent = 0
        for person in queryset.filter(is_active=True):
            assert isinstance(request.user, User)
            services.invite(person, by=request.user)
            sent += 1
        self.message_user(request, f"Sent {sent} invitation(s).", messages.SUCCESS)

    @admin.action(description="Reset two-factor (lost phone)")
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        deleted, _ = TOTPDevice.objects.filter(user__in=queryset).delete()
        self.message_user(request, f"Removed {deleted} authenticator device(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and not obj.has_usable_password():
            assert isinstance(request.user, User)
            services.invite(obj, by=request.user)
            self.message_user(request, f"Invitation sent to {obj.email}.", messages.SUCCESS)


@admin.register(AccountPolicy)
class AccountPolicyAdmin(admin.ModelAdmin[AccountPolicy]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return not AccountPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LockoutEvent)
class LockoutEventAdmin(admin.ModelAdmin[LockoutEvent]):
    """The audit log: read-only, nothing is edited or deleted here."""

    list_display = ("at", "kind", "email", "ip_address", "until", "reason", "by")
    list_filter = ("kind", "reason")
    search_fields = ("email", "ip_address")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
