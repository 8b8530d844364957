"""Schedules, escalation policies, pages and their notifications.

Only ``oncall.services`` opens, escalates and acknowledges pages; the admin edits
schedules and policies.
"""

from __future__ import annotations

import re
import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from casedesk.accounts.models import Organization, validate_time_zone
from casedesk.cases.models import Case

# Short codes people type in an SMS ("ACK K7QF"): no 0/O, 1/I/L to misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 4


CODE_RE = re.compile(rf"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
# What secrets.token_urlsafe(24) makes: 32 URL-safe characters (anything else is not a feed).
FEED_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32}")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class Schedule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="America/Chicago", validators=[validate_time_zone]
    )
    fallback = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Covers any gap in a layer (and is the support manager of the default policy).",
    )
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Layer(models.Model):
    """A rotation: participants in order, handing off at a local time every N days."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0, help_text="0 = primary, 1 = secondary")
    start_date = models.DateField(
        help_text="Local date of the first hand-off (the first participant's first shift)."
    )
    handoff_time = models.TimeField(
        help_text="Local time of every hand-off, in the schedule's zone."
    )
    every_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text="1 daily, 7 weekly, or every N days.",
    )
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["schedule", "position"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="one_layer_per_level"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name}: {self.name}"


class LayerMember(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["layer", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.layer}: {self.person}"


class Override(models.Model):
    """``person`` takes ``[start, end)`` on a layer ("I take Saturday for Ann")."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="overrides")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["layer", "created_at", "pk"]  # the newest wins where two overlap
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="policies")
    repeat = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(10)],
        help_text="After the last step, run the whole chain again this many times.",
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_policy"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Target(models.TextChoices):
    LAYER = "layer", "Whoever is on call in a layer"
    PERSON = "person", "A person"
    FALLBACK = "fallback", "The schedule's fallback person (support manager)"


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    target = models.CharField(max_length=16, choices=Target.choices, default=Target.LAYER)
    layer_position = models.PositiveSmallIntegerField(
        default=0, help_text="For a layer target: 0 primary, 1 secondary, ..."
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    delay = models.DurationField(
        default=timedelta(minutes=15),
        validators=[MinValueValidator(timedelta(minutes=1))],
        help_text="Wait this long without an acknowledgement before the next step.",
    )

    class Meta:
        ordering = ["policy", "position", "pk"]

    def __str__(self) -> str:
        what = {
            Target.LAYER: f"layer {self.layer_position}",
            Target.PERSON: str(self.person),
            Target.FALLBACK: "fallback",
        }[Target(self.target)]
        return f"{self.policy.name} step {self.position}: {what}"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"
    EMAIL = "email", "Email"


class NotificationRule(models.Model):
    """How a person wants to be paged: e.g. SMS at once, a call after 2 minutes."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    delay = models.DurationField(default=timedelta(0))

    class Meta:
        ordering = ["person", "delay", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["person", "channel"], name="one_rule_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.person}: {self.channel} after {self.delay}"


class PageStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


LIVE_PAGE_STATUSES = (PageStatus.OPEN, PageStatus.ACKNOWLEDGED)


class Page(models.Model):
    """The on-call team called for an organization's critical case(s)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="pages")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="pages")
    code = models.CharField(max_length=8, unique=True, default=new_code)
    status = models.CharField(max_length=16, choices=PageStatus.choices, default=PageStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_via = models.CharField(max_length=16, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The highest step position notified so far: the 60- and 90-minute alarms go one beyond.
    level = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # While a page for an organization is open, its critical cases join it.
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="one_live_page_per_organization",
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="page_status_idx")]

    def __str__(self) -> str:
        return f"page {self.code} ({self.organization})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_PAGE_STATUSES


class PageCase(models.Model):
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="page_cases")
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="page_link")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "pk"]

    def __str__(self) -> str:
        return f"{self.page.code}: {self.case.reference}"


class PageStep(models.Model):
    """One escalation step (or 60/90-minute alarm) acted on: the claim that makes it happen once."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=40, help_text="'3' for the fourth step; 'clock60:<case>'.")
    level = models.PositiveSmallIntegerField(help_text="The policy step position it notified.")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [models.UniqueConstraint(fields=["page", "key"], name="one_run_per_step")]

    def __str__(self) -> str:
        return f"{self.page.code} step {self.key}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled (acknowledged first)"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="notifications")
    step = models.ForeignKey(PageStep, on_delete=models.CASCADE, related_name="notifications")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=64, blank=True, help_text="Twilio's SID.")
    error = models.TextField(blank=True)
    always = models.BooleanField(
        default=False, help_text="Sent even if the page was acknowledged (60/90-minute alarms)."
    )
    # The one case a 60/90-minute alarm or a join notice is about (None: the whole page).
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Sends tried so far.")

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "person", "channel"], name="one_notification_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.page.code} {self.channel} to {self.person}"


class FeedToken(models.Model):
    """The unguessable address of a person's iCalendar feed (the schedule's is on Schedule)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    def __str__(self) -> str:
        return f"feed of {self.person}"


# Twilio's MessageSid: SM (SMS) or MM (MMS) and 32 hex digits; older accounts' SIDs vary
# in length, so 8 to 62 characters as the phone app's CallSid.
MESSAGE_SID_RE = re.compile(r"(SM|MM)[0-9A-Za-z]{8,62}")


class InboundSms(models.Model):
    """An SMS reply as Twilio posted it, stored before it is acted on, one row per MessageSid.

    The unique ``sid`` is what makes a replayed webhook (Twilio's signature has no
    timestamp, so a captured request verifies for ever) change nothing: the second
    insert fails and the reply is not processed again. Rows are kept: forgetting a SID
    would make its request replayable again."""

    sid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=32)
    body = models.CharField(max_length=1600, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    answer = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "inbound SMS"
        verbose_name_plural = "inbound SMS"

    def __str__(self) -> str:
        return f"SMS {self.sid} from {self.from_number}"
