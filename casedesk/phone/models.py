"""The emergency line's call log: calls, the legs dialled to engineers, and fees.

A ``Call`` is one inbound call to the published number (Twilio's parent CallSid). Each
engineer the line tries is a ``Leg`` (the child CallSid of the ``Dial``). An agent may
mark a call non-emergency, which records a ``Fee`` against the organization when a fee
is configured (``CASEDESK_PHONE_FEE``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from casedesk.accounts.models import Organization
from casedesk.cases.models import Case


class Stage(models.TextChoices):
    """Where the call is in the flow: each webhook acts only in the stage it belongs to."""

    MENU = "menu", "Menu"
    ACCOUNT = "account", "Asked for the account number"
    DIALING = "dialing", "Dialing engineers"
    VOICEMAIL = "voicemail", "Recording a message"
    DONE = "done", "Done"


class CallOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    CONNECTED = "connected", "Connected to an engineer"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_MESSAGE = "no_message", "Nobody accepted; no message left"
    NO_COVERAGE = "no_coverage", "No after-hours coverage"
    UNIDENTIFIED = "unidentified", "Caller not identified"
    MENU = "menu", "Ended in the menu"


class Call(models.Model):
    """One call to the emergency line."""

    sid = models.CharField(max_length=64, unique=True)  # Twilio's CallSid (CA + 32 hex)
    from_number = models.CharField(max_length=32, blank=True)  # E.164, or "anonymous"
    to_number = models.CharField(max_length=32, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="calls"
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Twilio's CallStatus of the caller's leg (queued, ringing, in-progress, completed,
    # busy, failed, no-answer, canceled).
    status = models.CharField(max_length=16, default="ringing")
    # Twilio's SequenceNumber of the status callback that set ``status`` (-1: none yet).
    status_sequence = models.IntegerField(default=-1)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.MENU)
    outcome = models.CharField(
        max_length=16, choices=CallOutcome.choices, default=CallOutcome.IN_PROGRESS
    )
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    menu_attempts = models.PositiveSmallIntegerField(default=0)
    account_attempts = models.PositiveSmallIntegerField(default=0)
    recording_sid = models.CharField(max_length=64, blank=True)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Tries to copy the recording into the case's files (``recordings.fetch_recording``).
    recording_fetches = models.PositiveSmallIntegerField(default=0)
    # Triage: an agent says the call was not an emergency.
    non_emergency_at = models.DateTimeField(null=True, blank=True)
    non_emergency_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    non_emergency_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["organization", "started_at"], name="call_org_idx")]

    def __str__(self) -> str:
        return f"call {self.sid} from {self.from_number or 'unknown'}"


class LegOutcome(models.TextChoices):
    RINGING = "ringing", "Ringing"
    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Did not accept"
    NO_ANSWER = "no_answer", "No answer"
    MACHINE = "machine", "Voicemail picked up"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Caller hung up"


class Leg(models.Model):
    """One engineer the line tried to connect, in order."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs")
    position = models.PositiveSmallIntegerField()
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    number = models.CharField(max_length=32)
    sid = models.CharField(max_length=64, null=True, blank=True, unique=True)  # child CallSid
    status = models.CharField(max_length=16, blank=True)  # Twilio's DialCallStatus/CallStatus
    status_sequence = models.IntegerField(default=-1)  # as Call.status_sequence
    outcome = models.CharField(
        max_length=16, choices=LegOutcome.choices, default=LegOutcome.RINGING
    )
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["call", "position"]
        constraints = [
            models.UniqueConstraint(fields=["call", "position"], name="one_leg_per_position"),
        ]

    def __str__(self) -> str:
        return f"leg {self.position} of {self.call.sid}"


class Fee(models.Model):
    """A non-emergency call charged to an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="fees")
    call = models.OneToOneField(Call, on_delete=models.PROTECT, related_name="fee")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    charged_at = models.DateTimeField(default=timezone.now)
    charged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    void_reason = models.TextField(blank=True)
    # When the customer was first emailed about the mark and its fee: a void tells them
    # only if they heard of it (phone.fees.void_fee).
    told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-charged_at"]
        indexes = [
            models.Index(fields=["organization", "charged_at"], name="fee_org_idx"),
            # The monthly report's credits: fees voided in a month, charged before it.
            models.Index(fields=["voided_at"], name="fee_voided_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fee_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.call.sid}"
