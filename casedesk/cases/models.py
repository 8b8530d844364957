"""Cases, their priorities and targets, and the timeline of what happened to each.

Only ``cases.services`` creates and changes these rows (every channel goes
through it), so the SLA fields and the timeline always agree.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from casedesk.accounts.models import Organization
from casedesk.lib.durations import humanize_duration

# "CD-1042" is case number 1042; numbers start above 1000 so a reference never looks
# like a count or a year, and are the primary key plus this offset.
REFERENCE_PREFIX = "CD"
REFERENCE_OFFSET = 1000
_REFERENCE = re.compile(rf"^\s*#?(?:{REFERENCE_PREFIX}-?)?(\d{{1,12}})\s*$", re.IGNORECASE)


def parse_reference(text: str) -> int | None:
    """The primary key a reference such as ``CD-1042`` (or ``1042``) names, if any."""
    match = _REFERENCE.match(text or "")
    if not match:
        return None
    pk = int(match.group(1)) - REFERENCE_OFFSET
    return pk if pk > 0 else None


class Clock(models.TextChoices):
    BUSINESS = "business", "Business hours (the support calendar)"
    ALWAYS = "24x7", "24x7"


class Priority(models.Model):
    """A priority and its targets; admins edit these, code never hard-codes them."""

    name = models.CharField(max_length=50, unique=True)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order in lists: the most urgent first (lowest number)."
    )
    definition = models.TextField(help_text="Shown to customers when they pick a priority.")
    first_response_target = models.DurationField(
        validators=[MinValueValidator(timedelta(minutes=1))],
        help_text="Time to the first human response, on this priority's clock.",
    )
    resolution_target = models.DurationField(
        null=True,
        blank=True,
        validators=[MinValueValidator(timedelta(minutes=1))],
        help_text="Time to resolution, on this priority's clock; blank for none.",
    )
    clock = models.CharField(max_length=16, choices=Clock.choices, default=Clock.BUSINESS)
    served_after_hours = models.BooleanField(
        default=False, help_text="Worked outside support hours (pages the on-call engineer)."
    )
    is_critical = models.BooleanField(
        default=False,
        help_text=(
            "Asks which critical characteristics apply and the business impact; "
            "opened outside hours it raises the after-hours alarm."
        ),
    )
    is_default = models.BooleanField(
        default=False, help_text="Given to cases that arrive without one (email, chat)."
    )

    class Meta:
        ordering = ["position", "pk"]
        verbose_name_plural = "priorities"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_priority"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def first_response_text(self) -> str:
        return describe_target(self.first_response_target, self.clock)

    @property
    def resolution_text(self) -> str:
        return describe_target(self.resolution_target, self.clock)


def describe_target(target: timedelta | None, clock: str) -> str:
    """ "2 hours, around the clock" or "12 business hours" (never "1 business day":
    how long a business day is belongs to the calendar, so hours are exact)."""
    if target is None:
        return "no target"
    if clock == Clock.ALWAYS:
        return f"{humanize_duration(target)}, around the clock"
    hours, rest = divmod(target, timedelta(hours=1))
    if rest:
        return f"{humanize_duration(target)} of business hours"
    return "1 business hour" if hours == 1 else f"{hours} business hours"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending customer"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# Statuses in which the case still wants work from support.
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"


class Characteristic(models.TextChoices):
    """What makes a case critical (PRODUCT.md, policy 5): at least one must apply."""

    DATA_CORRUPTION = "a", "(a) data corruption"
    HANGS = "b", "(b) the product hangs, causing unacceptable delays"
    INACCESSIBLE = "c", "(c) the product is inaccessible to all users"


# Every sorted combination of the letters, stored as one short string ("ac").
CHARACTERISTIC_SETS = ["", "a", "b", "c", "ab", "ac", "bc", "abc"]


class Case(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="cases")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_cases"
    )
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.ForeignKey(Priority, on_delete=models.PROTECT, related_name="cases")
    characteristics = models.CharField(
        max_length=3,
        blank=True,
        help_text="Critical cases: the letters of the characteristics that apply (a, b, c).",
    )
    business_impact = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)

    opened_at = models.DateTimeField(default=timezone.now, help_text="When the SLA clocks start.")
    opened_after_hours = models.BooleanField(default=False)
    after_hours_alarm = models.BooleanField(
        default=False,
        help_text="Critical while support was closed (opened so, or raised to critical).",
    )
    # The targets agreed when the case took its priority: an admin editing the Priority
    # later changes new cases, never the deadlines of the ones already open.
    response_target = models.DurationField()
    resolution_target = models.DurationField(null=True, blank=True)
    sla_clock = models.CharField(max_length=16, choices=Clock.choices)
    first_response_due = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    first_response_breached = models.BooleanField(default=False)
    resolution_due = models.DateTimeField(
        null=True, blank=True, help_text="Empty while the clock is paused or has no target."
    )
    resolution_breached = models.BooleanField(default=False)
    paused_since = models.DateTimeField(
        null=True, blank=True, help_text="The resolution clock is paused (pending customer)."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The earliest running deadline (first response or resolution); what the desk queue
    # sorts on. Kept by services.refresh_next_due(); None when no clock runs.
    next_due = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The portal form's one-time token (a hidden random field): a second post of the same
    # form (a double click, three tabs, a retried request) finds this case instead of
    # opening another. Empty for every other channel.
    submission_token = models.CharField(max_length=64, blank=True, editable=False)
    # Opened by mail whose sender SPF, DKIM and DMARC could not vouch for (no verdict
    # either way): the case page and any page about it say "sender not verified".
    unverified_sender = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            # The desk queue: active cases, earliest deadline first.
            models.Index(fields=["status", "next_due"], name="case_queue_idx"),
            # The portal list: one organization's cases, newest first (all, or by status).
            models.Index(fields=["organization", "-opened_at"], name="case_org_recent_idx"),
            models.Index(
                fields=["organization", "status", "-opened_at"], name="case_org_status_recent_idx"
            ),
            # "Mine" in the desk.
            models.Index(fields=["assignee", "status", "next_due"], name="case_assignee_idx"),
            # The desk case page's "other open cases" of the organization, earliest deadline
            # first, read one active status at a time (desk_views.other_open_cases).
            models.Index(fields=["organization", "status", "next_due"], name="case_org_queue_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(characteristics__in=CHARACTERISTIC_SETS),
                name="case_characteristics_abc",
            ),
            # One case per posted form, even when the posts race (services.open_case).
            models.UniqueConstraint(
                fields=["requester", "submission_token"],
                condition=~Q(submission_token=""),
                name="one_case_per_submission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def take_targets(self, priority: Priority) -> None:
        """Move to ``priority`` and copy its targets and clock onto the case."""
        self.priority = priority
        self.response_target = priority.first_response_target
        self.resolution_target = priority.resolution_target
        self.sla_clock = priority.clock

    @property
    def first_response_text(self) -> str:
        """The first-response target this case was given: "2 hours, around the clock"."""
        return describe_target(self.response_target, self.sla_clock)

    @property
    def resolution_text(self) -> str:
        return describe_target(self.resolution_target, self.sla_clock)

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}-{self.pk + REFERENCE_OFFSET}" if self.pk else "(new)"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def characteristic_labels(self) -> list[str]:
        return [Characteristic(letter).label for letter in self.characteristics]

    @property
    def any_breach(self) -> bool:
        return self.first_response_breached or self.resolution_breached


class Pause(models.Model):
    """A stretch in which the SLA clocks stood still: the case waited on the customer
    (``pending``: the resolution clock) or was resolved (``resolved``: both clocks)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="pauses")
    kind = models.CharField(
        max_length=16,
        choices=[(Status.PENDING.value, "Pending customer"), (Status.RESOLVED.value, "Resolved")],
        default=Status.PENDING,
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.case.reference} paused {self.started_at:%Y-%m-%d %H:%M}"


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    REPLY = "reply", "Reply"
    NOTE = "note", "Internal note"
    STATUS = "status", "Status changed"
    PRIORITY = "priority", "Priority changed"
    DOWNGRADE = "downgrade", "Critical downgraded"
    ASSIGNMENT = "assignment", "Assigned"
    ATTACHMENT = "attachment", "File attached"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breached"
    AFTER_HOURS_CRITICAL = "after_hours_critical", "Critical case after hours"
    # Written by the on-call app (through services.record_event).
    PAGED = "paged", "On-call engineer paged"
    PAGE_NOTIFICATION = "page_notification", "On-call notification"
    PAGE_ACKNOWLEDGED = "page_acknowledged", "Page acknowledged"
    # Written by the emergency line (phone): the call, its connection, its voicemail.
    CALL = "call", "Phone call"


class Event(models.Model):
    """One entry on a case's timeline. ``public`` entries are shown to the customer."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    public = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="case_events",
    )
    body = models.TextField(blank=True)
    old_value = models.CharField(max_length=100, blank=True)
    new_value = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    # A reply by mail whose sender could not be verified (see Case.unverified_sender).
    unverified_sender = models.BooleanField(default=False, db_default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            # The timeline of one case, and downgrades per organization.
            models.Index(fields=["case", "at"], name="event_timeline_idx"),
            models.Index(fields=["kind", "at"], name="event_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    @property
    def by_customer(self) -> bool:
        return self.author is not None and self.author.is_customer


class SlaNotice(models.Model):
    """One SLA warning or breach that was acted on: the claim that makes it happen once.

    The scheduled task inserts this row first; a second run for the same deadline
    hits the unique constraint and does nothing.
    """

    class Target(models.TextChoices):
        FIRST_RESPONSE = "first_response", "First response"
        RESOLUTION = "resolution", "Resolution"

    class Stage(models.TextChoices):
        WARNING = "warning", "Warning (75% of the target)"
        BREACH = "breach", "Breach"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_notices")
    target = models.CharField(max_length=16, choices=Target.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    due = models.DateTimeField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "target", "stage", "due"], name="one_sla_notice_per_deadline"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.target} {self.stage}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the uploader's name on disk: a random name, the original kept in `name`.
    import uuid

    return f"cases/{instance.case_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    public = models.BooleanField(default=True, help_text="Customers see it (not on a note).")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.size < 0:
            raise ValidationError("size must not be negative")

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self.file.delete(save=False)
        return super().delete(*args, **kwargs)
