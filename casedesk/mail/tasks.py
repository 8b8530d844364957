"""Processing stored mail: one task per message, run in batches, and a sweep for any left
pending.

Each stored message gets its own ``process_message`` task row (``store()`` writes it in the
message's transaction, so no message is ever without one). On the default queue the task
that a worker claims leads a batch: it claims up to :data:`BATCH_MAX` - 1 other waiting
``process_message`` rows with one select (``SELECT ... FOR UPDATE SKIP LOCKED``, as the
worker claims one) and one update (``core.tasks.claim_ready``), so two workers never hold
the same message, then:

1. reads and verifies each message with no transaction open (``process.read_message``),
   in the order they arrived, until :data:`BATCH_SECONDS` of work is done (the rest go
   back to the queue unread);
2. writes the outcomes in transactions of up to :data:`WRITE_CHUNK` messages, each
   message in its own savepoint: a message that raises is rolled back alone and flagged
   ("needs attention"), the others commit; a message whose subject says critical ends
   its chunk, so its case (and its page) commits at once. The tasks a message enqueues
   (SLA checks, the auto-reply, notifications) are inserted together at the end of its
   savepoint (``core.tasks.enqueue_in_bulk``). On PostgreSQL a chunk first locks its
   sender domains in one order (:func:`_take_domains`), so two workers' chunks never
   deadlock on a sender's rate-limit bucket or a case; a chunk that fails on a lock all
   the same is written again one message to a transaction;
3. marks the claimed rows successful, each with its message's outcome line (one UPDATE
   run per row, ``core.tasks.finish_successful``).

The task knows which row it runs from django-tasks' ``task_started`` signal; called
any other way (``mailgate --process``, a test) it processes its one message alone.

A lane killed half-way leaves the messages of the uncommitted chunk pending and their
rows RUNNING: the supervisor puts the lane's row and the rows it claimed back in the queue
at once (``core.worker.release_held_by``); a whole worker killed leaves them to
``core.tasks.requeue_abandoned_tasks``. The state check under the row lock
(``process.write_read``) makes each message's outcome happen once.

A message whose subject says critical is enqueued on the critical queue by ``store()``
and processed alone there (:func:`enqueue_processing`): it never waits behind a backlog of
ordinary mail, and its case commits before its page is sent, as before.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F
from django.utils import timezone
from django_tasks import task
from django_tasks.signals import task_started
from django_tasks_db.models import DBTaskResult

from casedesk.core.periodic import periodic
from casedesk.core.retry import RetryableError, RetryPolicy, retrying, time_budget
from casedesk.core.tasks import CRITICAL, claim_ready, enqueue_in_bulk, finish_successful
from casedesk.mail.models import InboundMessage, State

if TYPE_CHECKING:
    from casedesk.mail.process import Read

logger = logging.getLogger("casedesk.mail")

# A database that is away (restarting, locked) is worth waiting for: 6 tries over
# about 40 minutes; the sweep below picks up anything still pending after that.
_PROCESS_RETRY = RetryPolicy(max_attempts=6, first_delay=timedelta(seconds=10))
# A batch: at most this many messages, and no new message read after this much work (the
# first is always read). 50 messages of ordinary mail take about a quarter of a second;
# the bound keeps a batch well inside the task's 30 s budget even when a few messages
# are slow to parse, and hands the rest to the next batch (or another worker).
BATCH_MAX = 50
BATCH_SECONDS = 0.5
# Messages written per transaction: few commits (each one is a disk flush on SQLite),
# yet short enough that a log-in or the SMTP receiver's commit never waits long for the
# write lock SQLite holds meanwhile.
WRITE_CHUNK = 25
# Messages up to this size are loaded together at the start of a batch; larger ones one
# at a time as they are read.
SMALL_BYTES = 256 * 1024
# A message pending this long has lost its task (a crash before the worker saw it,
# retries used up): the sweep enqueues it again.
STALE_AFTER = timedelta(minutes=5)


def _park(message_id: int, *, reason: str) -> None:
    """Every attempt ran over its time budget: an agent must look (the raw bytes stay)."""
    _flag(message_id, TimeoutError(reason))


# A batch is processed in well under a second; one still running after 30 s is hostile
# or pathological and must not hold the default lane (the worker stops it there).
@task()
@retrying(_PROCESS_RETRY, on_give_up=_park)
@time_budget(seconds=30)
def process_message(message_id: int) -> str:
    """Process one stored message, and on the default queue a batch of others with it
    (see the module docstring); returns this message's outcome line (for logs and tests)."""
    running = getattr(_running, "task", None)
    if running is None or running.queue_name == CRITICAL or running.message_id != message_id:
        return run_processing(message_id)
    return run_batch(message_id, running)


def enqueue_processing(message_id: int, *, critical: bool) -> None:
    """Enqueue the processing of a stored message: alone on the critical queue when its
    subject says critical (``store.subject_says_critical``), else on the default queue,
    where it is batched with the others."""
    if critical:
        process_message.using(queue_name=CRITICAL).enqueue(message_id)
    else:
        process_message.enqueue(message_id)


# ---- Batches -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Running:
    """The process_message row this thread's worker runs now (from ``task_started``)."""

    id: str
    queue_name: str
    worker_id: str
    message_id: int | None


_running = threading.local()


def _note_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """Remember which row runs, so that the task can claim others beside it."""
    _running.task = None
    if task_result.task.module_path != process_message.module_path:
        return
    args = task_result.args
    _running.task = _Running(
        id=str(task_result.id),
        queue_name=task_result.task.queue_name,
        worker_id=(task_result.worker_ids or [""])[-1],
        message_id=args[0] if args and isinstance(args[0], int) else None,
    )


task_started.connect(_note_started, dispatch_uid="casedesk.mail.process_message_started")


def run_batch(message_id: int, running: _Running) -> str:
    """Process ``message_id`` and up to BATCH_MAX - 1 waiting others; returns its line."""
    try:
        claimed = _claim_others(running, BATCH_MAX - 1)
    except DatabaseError:  # locked or away: this message alone, as a lone task would
        logger.warning("could not claim a batch beside inbound message %s", message_id)
        return run_processing(message_id)
    pks = [message_id, *(pk for pk in claimed.values() if pk != message_id)]
    try:
        lines, left = process_batch(pks, first=message_id)
    except DatabaseError as exc:
        _release_rows(list(claimed))
        raise RetryableError(f"inbound messages {pks[:5]}...: {exc}") from exc
    except Exception:  # a bug of the batch itself: each message goes its own way
        logger.exception("a batch of %d inbound messages failed", len(pks))
        _release_rows(list(claimed))
        return run_processing(message_id)
    _finish_rows(
        {row: lines[pk] for row, pk in claimed.items() if pk in lines},
        [row for row, pk in claimed.items() if pk not in lines or pk in left],
    )
    return lines.get(message_id, "")


def _claim_others(running: _Running, limit: int) -> dict[str, int]:
    """Claim up to ``limit`` process_message rows of the default queue waiting to run
    now, oldest first, for this batch (``core.tasks.claim_ready``: one select and one
    update); returns their message ids by row id."""
    claimed: dict[str, int] = {}
    strays: list[str] = []
    for row_id, args_kwargs in claim_ready(process_message, running.worker_id, limit):
        args = (args_kwargs or {}).get("args") or []
        if len(args) != 1 or not isinstance(args[0], int) or row_id == running.id:
            strays.append(row_id)  # not ours to batch: back to the queue, to run on its own
        else:
            claimed[row_id] = args[0]
    _release_rows(strays)
    return claimed


def _finish_rows(done: dict[str, str], back: list[str]) -> None:
    """Record the claimed rows: successful with their outcome line, or back in the queue."""
    finish_successful(done)
    _release_rows(back)


def _release_rows(ids: list[str]) -> None:
    if not ids:
        return
    try:
        DBTaskResult.objects.filter(id__in=ids, status="RUNNING").update(
            status="READY", started_at=None
        )
    except DatabaseError:  # the database is away: the abandoned-task sweep puts them back
        logger.warning("could not put %d mail task(s) back in the queue", len(ids))


def process_batch(
    pks: Sequence[int], *, first: int | None = None, seconds: float = BATCH_SECONDS
) -> tuple[dict[int, str], list[int]]:
    """Process the stored messages ``pks`` in the order they arrived; returns each one's
    outcome line, and the messages left unread (over ``seconds`` of work: ``first`` and
    the first message are always read).

    A message that raises anything but a lost database is flagged (needs attention) and
    the rest go on; a lost database raises (the messages of the chunk being written stay
    pending).
    """
    from casedesk.mail import process

    order = sorted(set(pks))
    InboundMessage.objects.filter(pk__in=order, state=State.PENDING).update(
        attempts=F("attempts") + 1
    )
    # The raw bytes of small messages in one query; a large one's (up to
    # CASEDESK_MAIL_MAX_MB) only while it is read, so a batch never holds 50 of them.
    messages = InboundMessage.objects.defer("raw").in_bulk(order)
    small = [pk for pk, m in messages.items() if m.size <= SMALL_BYTES]
    for pk, raw in InboundMessage.objects.filter(pk__in=small).values_list("pk", "raw"):
        messages[pk].raw = raw
    lines: dict[int, str] = {}
    left: list[int] = []
    read: list[tuple[int, Read | Exception]] = []
    started = time.monotonic()
    for pk in order:
        message = messages.get(pk)
        if message is None:
            lines[pk] = "gone: the message was deleted"
            continue
        if message.state != State.PENDING:
            lines[pk] = message.outcome
            continue
        if read and pk != first and time.monotonic() - started > seconds:
            left.append(pk)
            continue
        try:
            read.append((pk, process.read_message(message)))
        except Exception as exc:  # garbage we did not foresee: flagged with the others below
            logger.exception("reading inbound message %s failed", pk)
            read.append((pk, exc))
        message.__dict__.pop("raw", None)  # not kept for the writes
    with process.batch_cache():
        for chunk in _chunks(read):
            try:
                lines.update(_write_chunk(chunk))
            except OperationalError as exc:
                if lost_database(exc):
                    raise
                # Two batches at once (several workers on PostgreSQL) may lock the same
                # rows (a sender's rate-limit bucket, a case) in opposite orders: the
                # database ends one transaction as a deadlock. Nothing of the chunk was
                # written; its messages go one to a transaction, as a lone task writes.
                logger.warning(
                    "writing %d inbound messages together failed (%s); one at a time",
                    len(chunk),
                    str(exc).split("\n", 1)[0],
                )
                process.forget_people()
                for one in chunk:
                    lines.update(_write_chunk([one]))
    return lines, left


def _write_chunk(chunk: list[tuple[int, Read | Exception]]) -> dict[int, str]:
    """Write the outcomes of ``chunk`` in one transaction; their lines once committed."""
    written: dict[int, str] = {}
    with transaction.atomic():
        _take_domains(chunk)
        locked = (
            InboundMessage.objects.select_for_update().defer("raw").in_bulk([pk for pk, _ in chunk])
        )
        for pk, item in chunk:
            written[pk] = _write_one(pk, item, locked.get(pk))
    return written


def _take_domains(chunk: list[tuple[int, Read | Exception]]) -> None:
    """On PostgreSQL, take a lock (until the transaction ends) per sender domain of the
    chunk, in one order for every worker. A chunk's messages lock their senders'
    rate-limit buckets and their organizations' cases one after the other, so two
    workers' chunks with senders in common would take those in opposite orders and
    deadlock (a second lost each time). With these, such chunks wait for each other;
    chunks of other organizations go on side by side. (SQLite has one writer anyway.)"""
    if connection.vendor != "postgresql":
        return
    domains = {
        item.parsed.from_address.rpartition("@")[2].lower()
        for _, item in chunk
        if not isinstance(item, Exception)
    }
    keys = sorted(
        int.from_bytes(
            hashlib.sha256(f"casedesk mail {domain}".encode()).digest()[:8], "big", signed=True
        )
        for domain in domains
    )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def lost_database(exc: BaseException) -> bool:
    from casedesk.core.worker import lost_database as lost

    return lost(exc)


def _chunks(
    read: list[tuple[int, Read | Exception]],
) -> Iterator[list[tuple[int, Read | Exception]]]:
    """Chunks of WRITE_CHUNK, each ending early after a message whose subject says critical
    (its case and page commit without waiting for the rest)."""
    from casedesk.mail import rules

    chunk: list[tuple[int, Read | Exception]] = []
    for pk, item in read:
        chunk.append((pk, item))
        critical = not isinstance(item, Exception) and rules.is_critical_subject(
            item.parsed.subject
        )
        if critical or len(chunk) >= WRITE_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_one(pk: int, item: Read | Exception, message: InboundMessage | None) -> str:
    """One message's outcome, in its own savepoint of the chunk's transaction."""
    from casedesk.mail import process

    if message is None:
        return "gone: the message was deleted"
    if message.state != State.PENDING:  # another run wrote it while we read
        return message.outcome
    if isinstance(item, Exception):
        return _flag(pk, item)
    try:
        # The message's follow-up tasks (SLA checks, the auto-reply, a reply's
        # notification) go in with one insert, inside its savepoint.
        with transaction.atomic(), enqueue_in_bulk():
            return process.write_read(item, message).line
    except (DataError, IntegrityError) as exc:
        # A value the database refuses, or a constraint this message breaks: trying
        # again cannot help, so an agent must look at it (the others go on).
        process.forget_people()
        return _flag(pk, exc)
    except DatabaseError:
        raise
    except Exception as exc:
        logger.exception("processing inbound message %s failed", pk)
        process.forget_people()
        return _flag(pk, exc)


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
    if stale:
        # Each on the queue store() chose: alone on the critical queue when its subject
        # says critical (within the sending server's allowance), else batched.
        from casedesk.mail.store import _may_take_the_critical_lane, subject_says_critical

        found = InboundMessage.objects.filter(pk__in=stale).values_list("pk", "raw", "client_ip")
        for pk, raw, client_ip in found.iterator(chunk_size=20):
            raw = bytes(raw)
            critical = subject_says_critical(raw) and _may_take_the_critical_lane(raw, client_ip)
            enqueue_processing(pk, critical=critical)
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
