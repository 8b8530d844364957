"""Processing stored mail: one task per message, and a sweep for any left pending."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from casedesk.core.periodic import periodic
from casedesk.core.retry import RetryableError, RetryPolicy, retrying, time_budget
from casedesk.mail.models import InboundMessage, State

logger = logging.getLogger("casedesk.mail")

# A database that is away (restarting, locked) is worth waiting for: 6 tries over
# about 40 minutes; the sweep below picks up anything still pending after that.
_PROCESS_RETRY = RetryPolicy(max_attempts=6, first_delay=timedelta(seconds=10))
# A message pending this long has lost its task (a crash before the worker saw it,
# retries used up): the sweep enqueues it again.
STALE_AFTER = timedelta(minutes=5)


def _park(message_id: int, *, reason: str) -> None:
    """Every attempt ran over its time budget: an agent must look (the raw bytes stay)."""
    _flag(message_id, TimeoutError(reason))


# A message is processed in well under a second; one still running after 30 s is hostile
# or pathological and must not hold the default lane (the worker stops it there).
@task()
@retrying(_PROCESS_RETRY, on_give_up=_park)
@time_budget(seconds=30)
def process_message(message_id: int) -> str:
    """Process one stored message; returns the outcome line (for logs and tests)."""
    return run_processing(message_id)


def run_processing(message_id: int) -> str:
    """Process, turning a bug into "needs attention" rather than a lost message.

    A database error is retried (the message stays pending); any other exception is
    a bug or input we did not foresee: the message is flagged with the error, which
    an agent sees on the desk's list, and the raw bytes stay.
    """
    from casedesk.mail.process import process

    try:
        # Counted in its own commit, so failed attempts show on the desk's mail page.
        InboundMessage.objects.filter(pk=message_id, state=State.PENDING).update(
            attempts=F("attempts") + 1
        )
        return process(message_id).line
    except InboundMessage.DoesNotExist:
        return "gone: the message was deleted"
    except DataError as exc:
        # The database refuses a value (too long, a byte it cannot store): trying
        # again cannot help, so an agent must look at it.
        return _flag(message_id, exc)
    except DatabaseError as exc:
        raise RetryableError(f"inbound message {message_id}: {exc}") from exc
    except Exception as exc:
        logger.exception("processing inbound message %s failed", message_id)
        return _flag(message_id, exc)


def _flag(message_id: int, exc: Exception) -> str:
    """Put the message on the desk's "needs attention" list with the error."""
    reason = f"processing failed: {type(exc).__name__}: {exc}".replace("\x00", "")
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\x00", "")
    with transaction.atomic():
        InboundMessage.objects.filter(pk=message_id, state=State.PENDING).update(
            state=State.NEEDS_ATTENTION,
            outcome=f"needs attention: {reason}"[:400],
            reason=f"{reason}\n{detail}",
            processed_at=timezone.now(),
        )
    return f"needs attention: {reason}"


@periodic(every=timedelta(minutes=5))
@task()
def sweep_pending_mail() -> int:
    """The safety net: messages still pending long after they arrived get a new task,
    unless a task for them is still waiting in the queue (a backlog, not a loss) or
    running within its time budget (one RUNNING longer was lost with its worker)."""
    from casedesk.core.tasks import still_queued

    cutoff = timezone.now() - STALE_AFTER
    stale = list(
        InboundMessage.objects.filter(state=State.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
    if stale:
        queued = still_queued(process_message).values_list("args_kwargs", flat=True)
        waiting = {entry["args"][0] for entry in queued if entry.get("args")}
        stale = [pk for pk in stale if pk not in waiting]
    for pk in stale:
        process_message.enqueue(pk)
    if stale:
        logger.warning("mail sweep re-enqueued %d pending message(s)", len(stale))
    return len(stale)


@task()
@retrying(RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30)))
def notify_held_critical(message_id: int) -> None:
    """Tell every agent that a mail whose subject says critical is held, or suspended
    because its sender was not verified, on the mail list (a genuine customer whose IT
    broke their SPF must not wait all night unseen). Mail only: it never pages."""
    message = InboundMessage.objects.filter(
        pk=message_id, state__in=(State.HELD, State.SUSPENDED)
    ).first()
    if message is None:
        return  # dealt with already
    mail_agents("mail/email/held_critical", {"message": message}, "the held-critical notice")


def mail_agents(template: str, context: dict[str, Any], what: str) -> int:
    """Mail every active agent and admin (``base_url`` added to ``context``); a send
    failure is a RetryableError naming ``what``. Returns how many were mailed."""
    import smtplib

    from casedesk.accounts.models import Role, User
    from casedesk.core.mail import send_templated

    agents = User.objects.filter(role__in=[Role.AGENT, Role.ADMIN], is_active=True)
    recipients = list(agents.values_list("email", flat=True))
    if not recipients:
        return 0
    try:
        send_templated(template, {**context, "base_url": settings.BASE_URL}, recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"could not send {what}: {exc}") from exc
    return len(recipients)
