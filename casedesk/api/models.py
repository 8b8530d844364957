"""Personal API tokens: what a script or another system shows to act as a person.

A token is shown once, when it is made; the database keeps its visible prefix and a
SHA-256 digest of the whole token (a token is 32 random bytes, so a plain hash is as
good as a slow one: nobody can guess their way to one). It acts as its owner, within
its scopes, until it expires or is revoked; its owner's deactivation ends it at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    """What a token may do, per area: ``read`` to look, ``write`` to change."""

    CASES_READ = "cases:read", "Cases: read"
    CASES_WRITE = "cases:write", "Cases: reply, change, open"
    ORGANIZATIONS_READ = "organizations:read", "Organizations and people: read"
    ONCALL_READ = "oncall:read", "On call: read"
    ONCALL_WRITE = "oncall:write", "On call: page, acknowledge"
    STATUS_READ = "status:read", "Status page: read"
    STATUS_WRITE = "status:write", "Status page: incidents and maintenance"
    PHONE_READ = "phone:read", "Calls and fees: read"
    REPORTS_READ = "reports:read", "Reports: read"


class ApiToken(models.Model):
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What it is for: 'CRM sync'.")
    # The token's visible start ("cd_" + 8 characters of it): shown in lists, logs and
    # `casedesk tokens revoke PREFIX`; unique, so it finds the row the digest is checked on.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"

    @property
    def is_live(self) -> bool:
        """Not revoked, not expired, and its owner may still log in."""
        now = timezone.now()
        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > now)
            and self.person.is_active
        )

    def scope_labels(self) -> list[str]:
        labels = dict(Scope.choices)
        return [str(labels.get(scope, scope)) for scope in self.scopes]


class IdempotentRequest(models.Model):
    """A POST sent with an ``Idempotency-Key``: its answer, so a retry gets the same one
    instead of a second reply or page (``api/idempotency.py``). Kept a day."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # What was asked (method, path and a digest of the body): the same key for another
    # request is refused rather than answered with the first one's result.
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: still running
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_answer_per_key"),
        ]
        indexes = [
            # The daily sweep of old keys (api.tasks.forget_idempotency_keys).
            models.Index(fields=["created_at"], name="idempotency_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'running'})"
