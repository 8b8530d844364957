"""What an agent does with held or suspended mail: assign an unknown sender, release, or dismiss."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from casedesk.accounts.models import Organization, User
from casedesk.cases.models import EventKind
from casedesk.cases.services import CaseError
from casedesk.mail.models import ATTENTION_STATES, InboundMessage, State, UnknownSender
from casedesk.mail.process import Outcome, process

logger = logging.getLogger("casedesk.mail")


def _process_again(message: InboundMessage, by: User) -> Outcome:
    """Process a held message for an agent; a failure is a message on the page, not a 500."""
    try:
        return process(message.pk, released_by=by)
    except CaseError:
        raise
    except (DatabaseError, Exception) as exc:
        logger.exception("processing held message %s for %s failed", message.pk, by.email)
        raise CaseError.on("", f"Processing failed again ({type(exc).__name__}: {exc}).") from exc


def _require_staff(person: User) -> None:
    if not person.is_vendor_staff:
        raise CaseError.on("", "Only support staff can do that.")


def _require_waiting(message: InboundMessage) -> None:
    if message.state not in ATTENTION_STATES:
        raise CaseError.on("", f"This message was already dealt with ({message.outcome}).")


def assign_sender(message: InboundMessage, organization: Organization, by: User) -> Outcome:
    """The sender belongs to ``organization``: remember that, and process the message.

    The decision commits on its own, before processing: processing parses the message
    outside any transaction (a hostile one takes seconds), and a failure to process
    leaves the message held, the decision standing for the next try.
    """
    _require_staff(by)
    _require_waiting(message)
    if not message.from_address:
        raise CaseError.on("", "The message has no sender address to assign.")
    UnknownSender.objects.update_or_create(
        address=message.from_address,
        defaults={"organization": organization, "decided_by": by, "decided_at": timezone.now()},
    )
    return _process_again(message, by)


def release(message: InboundMessage, by: User) -> Outcome:
    """Process a held or suspended message anyway (a burst that was not a loop; a
    customer whose domain's SPF or DKIM is broken, checked by the agent)."""
    _require_staff(by)
    _require_waiting(message)
    return _process_again(message, by)


def what_happened(outcome: Outcome) -> str:
    """The outcome of a release in words for the agent who clicked:
    ``created CD-1042 Critical, on-call paged``.

    Whether a new critical case paged is read from its timeline (the ``paged`` event
    the on-call app writes in the case's own transaction), so the line says what did
    happen, not what should have.
    """
    line = outcome.line
    case = outcome.case
    if outcome.state != State.CREATED or case is None or not case.priority.is_critical:
        return line
    if case.events.filter(kind=EventKind.PAGED).exists():
        return f"{line}, on-call paged"
    if case.after_hours_alarm:
        return f"{line}, after hours, but nobody was paged (see the case's timeline)"
    return f"{line}, in support hours: no page"


@transaction.atomic
def dismiss(message: InboundMessage, by: User, reason: str) -> InboundMessage:
    """Nothing to do for this message (spam, a test); it stays stored."""
    _require_staff(by)
    _require_waiting(message)
    reason = " ".join((reason or "").split())
    if not reason:
        raise CaseError.on("reason", "Say why the message needs nothing done.")
    message.state = State.IGNORED
    message.outcome = f"ignored: {reason} ({by.email})"[:400]
    message.reason = reason
    message.released_by = by
    message.processed_at = timezone.now()
    message.save()
    return message
