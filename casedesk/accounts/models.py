"""Organizations (clients), people, roles, and the lock-out log.

People log in with their email address. A person is a ``customer`` of exactly one
client organization, or an ``agent`` or ``admin`` of the vendor (no organization).
Which organization an email, a phone number or an account number belongs to is
answered in ``accounts.services``; the tenant check ("may this person see that
organization's data?") lives there too, in one place.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from casedesk.lib.names import is_time_zone

# E.164 as Twilio sends it in "From": a plus, a country code, up to 15 digits.
E164_RE = re.compile(r"\+[1-9]\d{6,14}")
# Keyed in on a telephone keypad (issue 7), so digits only.
ACCOUNT_NUMBER_RE = re.compile(r"\d{6,12}")
ACCOUNT_NUMBER_DIGITS = 8
# A domain name as it appears after the @: labels of letters, digits and hyphens.
DOMAIN_RE = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def normalize_email(address: str) -> str:
    """The one spelling of an address that casedesk stores and looks up: trimmed, lower case.

    Mail servers may treat the local part as case-sensitive, but no one signs up as
    ``Alice@`` and ``alice@`` meaning two people, and a customer typing their
    address in another case must still be recognised (and locked out) as one.
    """
    return address.strip().lower()


def plausible_email(text: str) -> str:
    """``normalize_email(text)``, or "" when no address can be spelled so.

    Lower-casing can lengthen text ("İ" is two characters in lower case) past
    the 254 an address may have, and no address holds control characters (nor
    the NUL that PostgreSQL refuses to store): such text is never looked up,
    counted or stored.
    """
    email = normalize_email(text)
    return email if len(email) <= 254 and email.isprintable() else ""


def normalize_phone(number: str) -> str:
    """Strip spaces, dots, dashes and brackets: ``+1 (555) 010-0100`` -> ``+15550100100``."""
    return re.sub(r"[\s().\-]", "", number)


def validate_phone(number: str) -> None:
    if not E164_RE.fullmatch(number):
        raise ValidationError(
            "Enter the number in international form: a + and the country code, e.g. +15555550100.",
            code="invalid_phone",
        )


def validate_time_zone(name: str) -> None:
    if name and not is_time_zone(name):
        raise ValidationError(
            "Enter a time zone name from the tz database, e.g. America/Chicago.",
            code="invalid_time_zone",
        )


def validate_domain(domain: str) -> None:
    if not DOMAIN_RE.fullmatch(domain):
        raise ValidationError(
            "Enter a domain name such as acme.example (no @, no http://).",
            code="invalid_domain",
        )


def validate_account_number(number: str) -> None:
    if not ACCOUNT_NUMBER_RE.fullmatch(number):
        raise ValidationError(
            "An account number is 6 to 12 digits: customers key it in on a phone.",
            code="invalid_account_number",
        )


def new_account_number() -> str:
    """A random account number that no organization has yet."""
    while True:
        number = str(
            secrets.randbelow(9 * 10 ** (ACCOUNT_NUMBER_DIGITS - 1))
            + 10 ** (ACCOUNT_NUMBER_DIGITS - 1)
        )
        if not Organization.objects.filter(account_number=number).exists():
            return number


class Organization(models.Model):
    """A client of the vendor: its customers see its cases and no one else's."""

    name = models.CharField(max_length=200, unique=True)
    account_number = models.CharField(
        max_length=12,
        unique=True,
        blank=True,
        validators=[validate_account_number],
        help_text="Digits a customer keys in on the emergency line. Left blank, one is made up.",
    )
    after_hours_coverage = models.BooleanField(
        default=True,
        help_text="Whether critical cases from this client are served outside support hours.",
    )
    notes = models.TextField(blank=True, help_text="Internal: never shown to customers.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.account_number:
            self.account_number = new_account_number()
        super().save(*args, **kwargs)


class OrganizationDomain(models.Model):
    """An email domain that identifies an organization (``acme.example``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True, validators=[validate_domain])

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Any = None) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")  # before the validator sees it
        super().clean_fields(exclude)


class OrganizationPhone(models.Model):
    """A calling number that identifies an organization on the emergency line."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=16, unique=True, validators=[validate_phone])
    label = models.CharField(max_length=100, blank=True, help_text="e.g. 'NOC desk'.")

    class Meta:
        ordering = ["number"]
        verbose_name = "phone number"

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.number = normalize_phone(self.number)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Any = None) -> None:
        self.number = normalize_phone(self.number)  # before the validator sees it
        super().clean_fields(exclude)


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    ADMIN = "admin", "Admin"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("a person needs an email address")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)  # None gives an unusable password: invite them
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", Role.CUSTOMER)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields["role"] = Role.ADMIN
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,  # an organization with people is not deleted by accident
        null=True,
        blank=True,
        related_name="people",
        help_text="Customers only: the client they belong to.",
    )
    phone = models.CharField(
        max_length=16, blank=True, validators=[validate_phone], help_text="For paging (agents)."
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Shown times use this zone, e.g. America/Chicago; blank: the browser's.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Unticked, the person cannot log in (use instead of deleting)."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    invited_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                name="customer_has_organization",
                condition=(
                    models.Q(role="customer", organization__isnull=False)
                    | (~models.Q(role="customer") & models.Q(organization__isnull=True))
                ),
                violation_error_message=(
                    "A customer belongs to one organization; agents and admins to none."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def clean_fields(self, exclude: Any = None) -> None:
        self.email = normalize_email(self.email)
        self.phone = normalize_phone(self.phone)
        super().clean_fields(exclude)

    def clean(self) -> None:
        super().clean()
        if self.role == Role.CUSTOMER and self.organization_id is None:
            raise ValidationError({"organization": "A customer belongs to one organization."})
        if self.role != Role.CUSTOMER and self.organization_id is not None:
            raise ValidationError(
                {"organization": "Agents and admins work for the vendor: leave this empty."}
            )

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        # Admins manage everything in the admin site; the role is the one switch.
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)

    @property
    def is_staff(self) -> bool:
        """Django's admin site is for admins."""
        return self.role == Role.ADMIN

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_vendor_staff(self) -> bool:
        """Agents and admins: the people who work cases."""
        return self.role in (Role.AGENT, Role.ADMIN)


class AccountPolicy(models.Model):
    """Site-wide account rules an admin sets in the admin (one row)."""

    require_two_factor_for_agents = models.BooleanField(
        default=False,
        help_text="Agents and admins must set up an authenticator app before using the desk.",
    )

    class Meta:
        verbose_name = "account policy"
        verbose_name_plural = "account policy"

    def __str__(self) -> str:
        return "Account policy"

    @classmethod
    def current(cls) -> AccountPolicy:
        """The policy row, or the defaults until an admin saves one (no write on a GET)."""
        return cls.objects.order_by("pk").first() or cls()


class LoginFailure(models.Model):
    """A wrong password for an address, kept while it can still count towards a lock.

    ``email`` is whatever was typed (normalised), whether or not anyone has that
    address: unknown addresses lock exactly like known ones.
    """

    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # LockoutHandler counts an address's failures in the window on every attempt.
            models.Index(fields=["email", "at"], name="loginfailure_email_at"),
        ]

    def __str__(self) -> str:
        return f"{self.email} failed at {self.at:%Y-%m-%d %H:%M:%S} UTC"


class LockoutEvent(models.Model):
    """The audit log of locks and unlocks: append-only, shown to agents and admins."""

    class Kind(models.TextChoices):
        LOCKED = "locked", "Locked"
        UNLOCKED = "unlocked", "Unlocked"

    class Reason(models.TextChoices):
        FAILURES = "failures", "Too many failed log-ins"
        PASSWORD_RESET = "password_reset", "Password reset"
        BY_STAFF = "by_staff", "Unlocked by staff"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Locked: the log-in's address. Unlocked: the unlocker's."
    )
    at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(null=True, blank=True, help_text="Locks: when the lock ends.")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who unlocked it (empty for locks and password resets).",
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # Is this address locked now? (the latest event for it)
            models.Index(fields=["email", "-at"], name="lockoutevent_email_at"),
            # The desk's list of accounts locked now.
            models.Index(fields=["kind", "until"], name="lockoutevent_kind_until"),
        ]

    def __str__(self) -> str:
        return f"{self.email} {self.kind} at {self.at:%Y-%m-%d %H:%M} UTC"
