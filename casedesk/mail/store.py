"""The first step of every way in (SMTP, IMAP, pipe): commit the raw bytes, then process.

STYLE practice 5: an inbound adapter stores what it received before it does
anything else with it, so a crash, a parser bug or a refused case never loses a
message. Processing is a task enqueued in the same transaction (django-tasks-db
writes the task row there), so a stored message always gets processed, and the
sweep in :mod:`casedesk.mail.tasks` catches any that did not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from casedesk.mail.models import InboundMessage, Source


class MessageTooLarge(ValueError):
    """Over ``settings.MAIL_MAX_BYTES`` (``CASEDESK_MAIL_MAX_MB``)."""


@dataclass(frozen=True)
class Stored:
    message: InboundMessage
    new: bool  # False: the same bytes were stored before (another path, a retry)


def store(
    raw: bytes,
    *,
    source: str,
    envelope_from: str | None = None,
    recipients: Iterable[str] = (),
) -> Stored:
    """Commit ``raw`` and enqueue its processing; the same bytes twice are stored once.

    ``envelope_from`` is the SMTP ``MAIL FROM`` ("" for the null sender of a bounce),
    or ``None`` when the path does not know it (IMAP). Raises
    :class:`MessageTooLarge`, or a database error when nothing could be stored: the
    caller then tells the sender to try again (451, exit 75, leave it on the server).
    """
    if source not in Source.values:
        raise ValueError(f"unknown source {source!r}")
    if len(raw) > settings.MAIL_MAX_BYTES:
        raise MessageTooLarge(
            f"the message is {len(raw):,} bytes; the limit is {settings.MAIL_MAX_BYTES:,}"
        )
    digest = hashlib.sha256(raw).hexdigest()
    existing = InboundMessage.objects.filter(digest=digest).first()
    if existing is not None:
        return Stored(existing, new=False)
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                source=source,
                envelope_from=(envelope_from or "")[:400],
                envelope_known=envelope_from is not None,
                envelope_to=", ".join(recipients)[:10_000],
                digest=digest,
                raw=raw,
                size=len(raw),
            )
            from casedesk.mail.tasks import process_message

            process_message.enqueue(message.pk)
    except IntegrityError:
        # Stored by another path in the meantime (the digest is unique).
        return Stored(InboundMessage.objects.get(digest=digest), new=False)
    return Stored(message, new=True)
