"""Inbound mail: every message as received (raw bytes first), what became of it, bounces."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from casedesk.accounts.models import Organization, User
from casedesk.cases.models import Case, Event


class Source(models.TextChoices):
    SMTP = "smtp", "SMTP receiver"
    IMAP = "imap", "IMAP mailbox"
    PIPE = "pipe", "mail server pipe"
    DESK = "desk", "uploaded in the desk"


class State(models.TextChoices):
    PENDING = "pending", "waiting to be processed"
    CREATED = "created", "opened a case"
    REPLIED = "replied", "added to a case"
    BOUNCE = "bounce", "delivery report"
    IGNORED = "ignored", "ignored"
    HELD = "held", "held for an agent"
    NEEDS_ATTENTION = "needs_attention", "needs attention"
    # The sender could not be verified (CASEDESK_MAIL_SENDER_POLICY): no case, no page,
    # until an agent releases it.
    SUSPENDED = "suspended", "suspended: sender not verified"


# The desk's "needs attention" list shows these; an agent may release them.
ATTENTION_STATES = (State.HELD, State.NEEDS_ATTENTION, State.SUSPENDED)


class SenderCheck(models.TextChoices):
    """What SPF, DKIM and DMARC said of the sender (mail/senders.py), "" if not checked."""

    PASS = "pass", "sender verified"
    FAIL = "fail", "sender failed verification"
    NONE = "none", "sender not verified (no verdict)"


class InboundMessage(models.Model):
    """One message as it arrived. Stored (and committed) before anything else happens.

    The SMTP receiver answers ``250`` only after this row commits; the IMAP
    fetcher marks a message only after; the pipe exits 0 only after. The same
    bytes from two paths are one row (``digest`` is unique).
    """

    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=8, choices=Source.choices)
    envelope_from = models.CharField(max_length=400, blank=True)
    # Whether the envelope sender is known (SMTP and pipe know it; IMAP does not).
    envelope_known = models.BooleanField(default=False)
    envelope_to = models.TextField(blank=True)  # comma-separated
    # The sending server as the SMTP receiver saw it (or the pipe was told): what SPF
    # checks. Unknown for IMAP, where the MTA in front checked (Authentication-Results).
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    helo = models.CharField(max_length=255, blank=True)
    digest = models.CharField(max_length=64, unique=True)  # SHA-256 of raw
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    # Filled in by processing (the raw bytes stay the record).
    message_id = models.CharField(max_length=400, blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)  # the full text body (or the HTML's text)
    html = models.TextField(blank=True)  # sanitised with nh3
    # What processing could not show ("too large to display, download the original"):
    # the HTML cut at CASEDESK_MAIL_SANITISE_MAX_KB, too deeply nested, or a parse that
    # ran out of time. "" when the whole message was read.
    notice = models.TextField(blank=True)
    # Sender verification (mail/senders.py): the judgment, and the line that explains it
    # ("sender not verified: globex.example publishes DMARC p=reject ...").
    sender_check = models.CharField(max_length=8, choices=SenderCheck.choices, blank=True)
    sender_detail = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    outcome = models.CharField(max_length=400, blank=True)  # "created CD-1042 Critical"
    reason = models.TextField(blank=True)  # why held, ignored or needing attention
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Set by an agent who releases a held message: process it despite the hold.
    released_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The desk's "needs attention" list and the sweep of pending messages.
            models.Index(fields=["state", "received_at"], name="inbound_state_idx"),
            # Threading by our customers' own Message-IDs, and duplicate detection.
            models.Index(fields=["message_id"], name="inbound_message_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_address or '?'}: {self.subject or '(no subject)'}"


class MessageKey(models.Model):
    """The claim that a Message-ID has been acted on: one case per Message-ID, ever.

    Processing inserts this in its transaction; a second copy of the message (two
    deliveries, two paths) hits the unique key and is ignored as a duplicate.
    """

    key = models.CharField(max_length=400, unique=True)
    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return self.key


class Bounce(models.Model):
    """A delivery report: one of our mails did not reach ``address``."""

    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="bounces")
    address = models.CharField(max_length=320)
    status = models.CharField(max_length=16)  # "5.1.1"
    action = models.CharField(max_length=16, blank=True)  # failed, delayed
    diagnostic = models.TextField(blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="bounces"
    )
    contact = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="bounces"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["address", "-at"], name="bounce_address_idx")]

    def __str__(self) -> str:
        return f"{self.address} {self.status}"

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


class UnknownSender(models.Model):
    """Where an agent decided an unknown address belongs (kept for the next message)."""

    address = models.CharField(max_length=320, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.address} -> {self.organization}"


class MailboxState(models.Model):
    """How far `casedesk imap` got in one folder, so that nothing is fetched twice.

    ``last_uid`` is saved after a message is stored and marked; a new
    ``uidvalidity`` (the server renumbered the folder) starts again from UID 0,
    and the digest check in ``store()`` keeps the copies already stored out.
    """

    key = models.CharField(max_length=400, unique=True)  # user@host/folder
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    last_uid = models.PositiveBigIntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)  # the last round that completed
    # The latest problem (login refused, a message too large to store), kept after clean
    # rounds so an operator sees it; last_error_at says when.
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key
