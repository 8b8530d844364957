"""The status page: components, incidents and maintenance, their updates, subscribers.

**Departure** (docs/architecture.md): incidents and maintenance are one table,
as in Atlassian Statuspage, whose API serves a scheduled maintenance as an
incident with ``scheduled_for`` and ``impact: maintenance``. ``Maintenance`` is
a proxy of ``Incident`` (``kind = maintenance``); both have one timeline of
``IncidentUpdate`` rows, and each update records the component status changes it
made (``ComponentStatusChange``), from which the 90-day uptime is computed.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

# Statuspage's ids are 12 characters of lower-case letters and digits; ours too,
# random, so they reveal neither how many there are nor in which order they came.
_ALPHABET = string.ascii_lowercase + string.digits


def new_public_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded_performance", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


class Kind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    MAINTENANCE = "maintenance", "Maintenance"


class Impact(models.TextChoices):
    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"
    MAINTENANCE = "maintenance", "Maintenance"


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem"


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"


STATUS_CHOICES = IncidentStatus.choices + MaintenanceStatus.choices
STATUS_LABELS = dict(STATUS_CHOICES)
# An incident or maintenance in one of these is over (the rest are "unresolved").
CLOSED_STATUSES = (
    IncidentStatus.RESOLVED.value,
    IncidentStatus.POSTMORTEM.value,
    MaintenanceStatus.COMPLETED.value,
)


class Page(models.Model):
    """The one status page: its public id and a version every change bumps.

    The version keys the cached summary and the ETags, so one small query tells
    every web process whether its cached copy is current (a local-memory cache
    cannot be invalidated across processes).
    """

    public_id = models.CharField(max_length=12, unique=True, default=new_public_id)
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"status page {self.public_id}"


class ComponentGroup(models.Model):
    public_id = models.CharField(max_length=12, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    public_id = models.CharField(max_length=12, unique=True, default=new_public_id, editable=False)
    group = models.ForeignKey(
        ComponentGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="components",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    # Uptime is shown from this date (earlier days have no record).
    start_date = models.DateField(null=True, blank=True)
    showcase = models.BooleanField(default=True, help_text="Show the 90-day uptime bars.")
    only_show_if_degraded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    public_id = models.CharField(max_length=12, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCIDENT)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    impact = models.CharField(max_length=12, choices=Impact.choices, default=Impact.NONE)
    components = models.ManyToManyField(Component, blank=True, related_name="incidents")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    started_at = models.DateTimeField()
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Maintenance only: the window, and whether it was created already in progress.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    unscheduled = models.BooleanField(default=False)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            # The page, the API and the banner read the unresolved ones of a kind.
            models.Index(fields=["kind", "status"], name="status_incident_open_idx"),
            # History by month, the feeds and incidents.json: newest first.
            models.Index(fields=["-started_at"], name="status_incident_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        name = "status:maintenance" if self.is_maintenance else "status:incident"
        return reverse(name, args=[self.public_id])

    @property
    def is_maintenance(self) -> bool:
        return self.kind == Kind.MAINTENANCE

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))


class MaintenanceManager(models.Manager["Maintenance"]):
    def get_queryset(self) -> models.QuerySet[Maintenance]:
        return super().get_queryset().filter(kind=Kind.MAINTENANCE)


class Maintenance(Incident):
    """Scheduled (or unscheduled, already in progress) maintenance: an ``Incident`` row."""

    objects = MaintenanceManager()  # type: ignore[misc]

    class Meta:
        proxy = True
        verbose_name_plural = "maintenance"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = Kind.MAINTENANCE
        super().save(*args, **kwargs)


class IncidentUpdate(models.Model):
    public_id = models.CharField(max_length=12, unique=True, default=new_public_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    body = models.TextField(help_text="Markdown.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    display_at = models.DateTimeField()
    deliver_notifications = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-display_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.incident} {self.status}"


class ComponentStatusChange(models.Model):
    """One change of a component's status: the uptime history and an update's
    ``affected_components``."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="changes")
    update = models.ForeignKey(
        IncidentUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    old_status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    new_status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            # The uptime bars read one component's changes in a window.
            models.Index(fields=["component", "at"], name="status_change_window_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.component_id}: {self.old_status} -> {self.new_status}"


class UpdateTemplate(models.Model):
    """Reusable text for an update ("We are investigating reports of ...")."""

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCIDENT)
    name = models.CharField(max_length=100)
    update_status = models.CharField(max_length=16, choices=STATUS_CHOICES, blank=True)
    body = models.TextField(help_text="Markdown.")

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Subscriber(models.Model):
    """An email subscriber: to everything, or to chosen components.

    The scope is explicit: a subscriber to chosen components whose components
    were all deleted since hears nothing, rather than everything (an empty
    choice does not mean "all"). Mail goes only to confirmed subscribers (double
    opt-in: the link in the confirmation mail sets ``confirmed_at``).
    """

    class Scope(models.TextChoices):
        ALL = "all", "Everything"
        CHOSEN = "chosen", "Chosen components"

    email = models.EmailField(unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.ALL)
    components = models.ManyToManyField(Component, blank=True, related_name="subscribers")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Every notification reads the confirmed subscribers.
            models.Index(fields=["confirmed_at"], name="status_subscriber_conf_idx"),
        ]

    def __str__(self) -> str:
        return self.email


class Delivery(models.Model):
    """One notification mailed to one subscriber: the claim that makes a retried batch
    skip those already sent."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "key"], name="status_delivery_once")
        ]

    def __str__(self) -> str:
        return self.key


class Webhook(models.Model):
    # http(s) only: URLField would also take ftp://, which urllib would fetch.
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    secret = models.CharField(
        max_length=128,
        default=secrets.token_urlsafe,
        help_text="Signs each delivery (X-Casedesk-Signature: HMAC-SHA256).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        """Refuse an address inside our network written in the URL (a host name is
        checked at each delivery, on the address it resolves to: ``status.outbound``)."""
        from urllib.parse import urlsplit

        from django.core.exceptions import ValidationError

        from casedesk.status.outbound import Refused, check_address, literal_address

        if settings.STATUS_WEBHOOK_ALLOW_PRIVATE:
            return
        try:
            host = (urlsplit(self.url).hostname or "").rstrip(".").lower()
        except ValueError:
            return  # the URL validator says what is wrong
        if host == "localhost" or host.endswith(".localhost"):
            raise ValidationError({"url": "Webhooks go only to public internet addresses."})
        address = literal_address(host)
        if address is not None:
            try:
                check_address(address)
            except Refused as exc:
                raise ValidationError(
                    {"url": f"Webhooks go only to public internet addresses ({exc})."}
                ) from exc


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.TextField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} ({self.state})"


class IncidentCase(models.Model):
    """A case linked to an incident by an agent; its requester hears when it resolves."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="case_links")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(auto_now_add=True)
    told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "case"], name="status_incident_case_once")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} ~ {self.case_id}"


def bump_version() -> None:
    """Every change to what the page shows calls this (cached summary, ETags)."""
    from casedesk.status.caching import forget_version

    # QuerySet.update() skips auto_now: the page's updated_at is set here.
    if not Page.objects.update(version=F("version") + 1, updated_at=timezone.now()):
        Page.objects.get_or_create(defaults={"version": 2})
    # Now (this transaction's own reads) and after commit (everyone else's).
    forget_version()
    transaction.on_commit(forget_version)
