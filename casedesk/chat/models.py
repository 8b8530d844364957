"""Live chat: sessions, their messages (stored before they are broadcast), agents' presence
and the canned replies agents pick from."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from casedesk.accounts.models import Organization


class ChatStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for an agent"
    ACTIVE = "active", "With an agent"
    ENDED = "ended", "Ended"
    LEFT_MESSAGE = "left_message", "Left as a case"


OPEN_STATUSES = (ChatStatus.WAITING, ChatStatus.ACTIVE)

# The system message on a chat migration chat/0002 ended (a customer's second open chat);
# the migration writes this text itself (migrations do not import app code).
ENDED_AS_DUPLICATE = "ended: duplicate chat"


class ChatSession(models.Model):
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chats"
    )
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="chats")
    status = models.CharField(max_length=16, choices=ChatStatus.choices, default=ChatStatus.WAITING)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chats_taken",
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="chats"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            # The console's queue: waiting chats, oldest first; an agent's active chats.
            models.Index(fields=["status", "created_at"], name="chat_queue_idx"),
            models.Index(fields=["agent", "status"], name="chat_agent_idx"),
            # The widget: this customer's open chat.
            models.Index(fields=["customer", "status"], name="chat_customer_idx"),
        ]
        constraints = [
            # One open chat per customer: a second tab (or a double click) resumes it.
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status__in=["waiting", "active"]),
                name="chat_one_open_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"chat {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    SYSTEM = "system", "System"
    FILE = "file", "File"


def chat_file_path(instance: ChatMessage, filename: str) -> str:
    # As a case's files: never the sender's name on disk (the clean one is in `file_name`).
    return f"chat/{instance.session_id}/{uuid.uuid4().hex}"


class ChatMessage(models.Model):
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_messages",
    )
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.TEXT)
    body = models.TextField(blank=True)
    file = models.FileField(upload_to=chat_file_path, blank=True, max_length=300)
    file_name = models.CharField(max_length=150, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        indexes = [
            # History and the long poll: one session's messages after an id.
            models.Index(fields=["session", "id"], name="chat_message_after_idx"),
        ]

    def __str__(self) -> str:
        return f"chat {self.session_id} message {self.pk}"


class Presence(models.Model):
    """An agent's chat availability: ``available`` while their console says so, and only
    while its heartbeat is fresh (a closed laptop stops counting within a minute)."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_presence"
    )
    available = models.BooleanField(default=False)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # "Is anyone available?": available agents seen recently.
            models.Index(fields=["available", "last_seen"], name="chat_presence_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {'available' if self.available else 'away'}"


class CannedReply(models.Model):
    title = models.CharField(max_length=80, unique=True)
    body = models.TextField()

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title
