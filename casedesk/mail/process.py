"""A stored message becomes exactly one of: a new case, a reply on a case, a bounce
record, ignored (with the reason), held for an agent, or "needs attention".

:func:`process` first parses the message with no transaction open and no lock held
(:func:`read`: a hostile message may take seconds, and a transaction held that long
locks SQLite for every log-in), then writes the outcome in one transaction with the
message row locked, after checking again that the message still waits (a second run
of the task, or an agent releasing it, may have written it meanwhile): the case, its
events and the message's new state commit together or not at all, so a worker killed
half-way leaves the message pending and the next run processes it once. Between the
two, with no transaction open either (network lookups must never hold one), the
sender is verified (SPF, DKIM, DMARC: :func:`casedesk.mail.senders.verify`, bounded
by CASEDESK_MAIL_VERIFY_SECONDS) unless CASEDESK_MAIL_SENDER_POLICY is ``off``; the
verdict is stored on the message (``sender_check``, ``sender_detail``). The worker
runs the same two halves for a batch of messages (``mail.tasks.process_batch``):
:func:`read_message` for each with no transaction open, then :func:`write_read` for
each in its own savepoint, a few chunks of them per transaction, with the lookups every
message repeats (priorities, organizations, people) answered once per batch
(:func:`batch_cache`). The order of the checks is the order of this module:

1. unreadable bytes or no sender: needs attention (kept, shown in the desk);
2. mail from our own addresses: ignored (a loop with ourselves);
3. delivery reports: a bounce record against the contact and the case;
4. other reports (read receipts, abuse reports) and ``Precedence: junk``: ignored;
5. a second copy of a Message-ID already acted on: ignored as a duplicate;
6. a deactivated person, or mail from a support staff address: held for an agent;
7. the sender policy, wherever the message would act on a case (steps 8 and 9, and
   before a new contact is made for an address an organization claims): a sender
   that failed verification (``verify``), or any that did not pass (``strict``), is
   **suspended**: no case, no event, no auto-reply, no page, the verdict's reason on
   the message, until an agent releases it. With no verdict either way (``verify``)
   the message goes on, and its case (or reply) is marked ``unverified_sender`` with
   a note saying why. A message an agent releases from suspension skips the policy
   (the agent vouched; the case gets a note saying who); one released from another
   hold (an unknown sender assigned to an organization) meets it then, with the
   verdict it arrived with;
8. threading: our signed Message-ID in In-Reply-To/References, then a Message-ID
   the customer sent earlier, then ``[CD-1042]`` in the subject: a reply on that case
   (a closed case gets a new case that says what it follows);
9. otherwise a new case, Critical when the subject says so (never for automated
   mail), with an RFC 3834 auto-reply when the message may be answered.

A held or suspended message whose subject says critical is mailed to every agent
(``mail.tasks.notify_held_critical``), never paged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from casedesk.accounts.models import Organization, Role, User
from casedesk.accounts.services import organization_for_email
from casedesk.cases import files
from casedesk.cases.models import Case, Channel, Event, Priority, Status, parse_reference
from casedesk.cases.services import (
    BODY_MAX,
    SUBJECT_MAX,
    CaseError,
    NewCase,
    add_reply,
    default_priority,
    open_case_with_event,
    system_note,
)
from casedesk.core import ratelimit
from casedesk.core.mail import reference_of_message_id
from casedesk.hours.services import versions_held
from casedesk.lib.limited import LimitExceeded, TimeLimitExceeded, run_limited
from casedesk.mail import rules, senders
from casedesk.mail.models import (
    ATTENTION_STATES,
    Bounce,
    InboundMessage,
    MessageKey,
    SenderCheck,
    State,
    UnknownSender,
)
from casedesk.mail.parse import Limits, Parsed, Part, parse
from casedesk.mail.policies import AUTO_REPLY_PER_SENDER, INTO_CASE_PER_SENDER
from casedesk.mail.quotes import trim_quoted

logger = logging.getLogger("casedesk.mail")

# Messages up to this size are parsed in the worker itself: under mail.parse's caps the
# worst HTML we tried this size sanitises in 0.13 s, and a child process costs about
# 15 ms a message (mail arrives at hundreds a second). Larger ones are parsed in a child
# process that is killed after CASEDESK_MAIL_PARSE_SECONDS.
PARSE_INLINE_BYTES = 64 * 1024
# The child's memory beyond the worker's own (a 25 MB message parses in about 250 MB).
PARSE_MEMORY_MB = 1024
# When the parse ran out of time: the headers and the text found in this much of the
# message (parsed without sanitising the HTML, which is linear).
FALLBACK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Outcome:
    state: str
    line: str  # what `casedesk mailgate --process` prints: "created CD-1042 Critical"
    reason: str = ""
    case: Case | None = None
    event: Event | None = None


def _needs_attention(reason: str) -> Outcome:
    return Outcome(State.NEEDS_ATTENTION, f"needs attention: {reason}", reason)


def _ignored(reason: str, case: Case | None = None, event: Event | None = None) -> Outcome:
    return Outcome(State.IGNORED, f"ignored: {reason}", reason, case, event)


def _held(reason: str, case: Case | None = None) -> Outcome:
    return Outcome(State.HELD, f"held: {reason}", reason, case)


def _suspended(reason: str) -> Outcome:
    return Outcome(State.SUSPENDED, f"suspended: {reason}", reason)


class _Hold(Exception):
    """Processing stops here and the message waits for an agent."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.line)
        self.outcome = outcome


@dataclass(frozen=True)
class _Trust:
    """What the sender policy makes of one message (step 7 of the module docstring)."""

    suspend: str = ""  # why the message is suspended; "" to go on
    unverified: str = ""  # mark the case or reply, with this line in a note; "" if not
    released: str = ""  # a note for the case: an agent released it from suspension

    def enforce(self) -> None:
        """Stop here when the message is to be suspended (called where it would act)."""
        if self.suspend:
            raise _Hold(_suspended(self.suspend))


def _trust(message: InboundMessage, *, was: str, released_by: User | None) -> _Trust:
    """The policy's answer for ``message``, from the verdict stored on it.

    ``was`` is the message's state before this run: a release from SUSPENDED is the
    agent vouching for the sender; a release from another hold is not.
    """
    check, detail = message.sender_check, message.sender_detail
    if not check or check == SenderCheck.PASS:
        return _Trust()  # verified, or not checked (policy off, or unreadable)
    if released_by is not None and was == State.SUSPENDED:
        return _Trust(released=f"released by {released_by.email}, who vouched for it: {detail}")
    policy = settings.MAIL_SENDER_POLICY
    if policy == "off":
        return _Trust()  # turned off since the message arrived: From: is trusted
    if check == SenderCheck.FAIL:
        return _Trust(suspend=detail)
    if policy == "strict":
        return _Trust(suspend=f"{detail} (CASEDESK_MAIL_SENDER_POLICY=strict)")
    return _Trust(unverified=detail)


def read(raw: bytes) -> Parsed:
    """``raw`` parsed within the limits: the HTML capped (CASEDESK_MAIL_SANITISE_MAX_KB)
    and, for a large message, the whole parse stopped after CASEDESK_MAIL_PARSE_SECONDS.

    A parse that runs out of time or memory (or finds no process to run in) still
    gives the headers (sender, subject, threading) and the text of the message's first
    :data:`FALLBACK_BYTES`, with a notice, so a critical mail still opens its case and
    pages. Call it with no transaction open (see the module docstring).
    """
    limits = Limits(html_bytes=settings.MAIL_SANITISE_MAX_BYTES)
    if len(raw) <= PARSE_INLINE_BYTES:
        return parse(raw, limits)
    seconds = settings.MAIL_PARSE_SECONDS
    try:
        return run_limited(parse, raw, limits, seconds=seconds, memory_mb=PARSE_MEMORY_MB)
    except (LimitExceeded, OSError) as exc:  # OSError: no child could be started
        logger.warning("parsing a %d-byte message stopped: %s", len(raw), exc)
        parsed = parse(raw[:FALLBACK_BYTES], Limits(sanitise=False))
        parsed.html = ""
        why = (
            f"reading it took more than {seconds} s"
            if isinstance(exc, TimeLimitExceeded)
            else f"reading it failed: {exc}"
        )
        parsed.defects.append(f"parsing stopped: {why}")
        parsed.notice = (
            f"This message is too complex to display ({why}): only its headers and the "
            "text near its start are shown. Download the original to see it."
        )
        return parsed


def process(message_pk: int, *, released_by: User | None = None) -> Outcome:
    """Process one stored message (idempotent: a processed one returns its outcome)."""
    may_run = (State.PENDING, *ATTENTION_STATES) if released_by is not None else (State.PENDING,)
    message = InboundMessage.objects.get(pk=message_pk)
    if message.state not in may_run:
        return _done(message)
    item = read_message(message)
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().defer("raw").get(pk=message_pk)
        if message.state not in may_run:  # another run wrote it while we parsed
            return _done(message)
        return _write(message, item.parsed, released_by, item.verdict)


@dataclass(frozen=True)
class Read:
    """A stored message read and its sender verified (the first half of :func:`process`,
    done with no transaction open), waiting for :func:`write_read`."""

    parsed: Parsed
    verdict: senders.Verdict | None


def read_message(message: InboundMessage) -> Read:
    """Parse and verify ``message`` (the first half of :func:`process`, and a batch's
    first step; no transaction may be open)."""
    raw = bytes(message.raw)
    parsed = read(raw)
    verdict = None if message.sender_check else _verify(message, raw, parsed)
    return Read(parsed, verdict)


def write_read(item: Read, message: InboundMessage) -> Outcome:
    """Write the outcome of a message read by :func:`read_message`: ``message`` is its row
    locked in the caller's transaction (``select_for_update``, ``raw`` deferred). A message
    no longer pending (another run wrote it meanwhile) keeps its outcome."""
    if message.state != State.PENDING:
        return _done(message)
    return _write(message, item.parsed, None, item.verdict)


@dataclass
class _Lookups:
    """What a batch looks up once, not once a message: the priorities, the organizations
    that claim a domain, people by address (a new contact joins at once). Kept for one
    batch only (under a second), so an agent's change applies to the next one. (The
    calendar's version is checked once a batch too, and rate limits counted once a
    transaction: :func:`batch_cache`.)"""

    priorities: dict[bool, Priority] = field(default_factory=dict)
    organizations: dict[str, Organization | None] = field(default_factory=dict)
    people: dict[str, User | None] = field(default_factory=dict)


K = TypeVar("K")
V = TypeVar("V")
_lookups: ContextVar[_Lookups | None] = ContextVar("casedesk_mail_lookups", default=None)


@contextlib.contextmanager
def batch_cache() -> Iterator[None]:
    """Within this block, repeated lookups of one batch are answered from memory: those
    of :class:`_Lookups`, the calendars' versions (``hours.services.versions_held``), and
    the rate-limit buckets a transaction has locked (``ratelimit.batch``)."""
    token = _lookups.set(_Lookups())
    try:
        with versions_held(), ratelimit.batch():
            yield
    finally:
        _lookups.reset(token)


def _remembered(table: Callable[[_Lookups], dict[K, V]], key: K, look_up: Callable[[], V]) -> V:
    """``look_up()``, asked once per batch for ``key`` (every time outside a batch)."""
    lookups = _lookups.get()
    if lookups is None:
        return look_up()
    found = table(lookups)
    if key not in found:
        found[key] = look_up()
    return found[key]


def forget_people() -> None:
    """After a message's savepoint (or the chunk's transaction) rolled back: a contact it
    created is gone again, and so are its rate-limit hits and the locks it took."""
    lookups = _lookups.get()
    if lookups is not None:
        lookups.people.clear()
        lookups.organizations.clear()
    ratelimit.forget_batch()


def _verify(message: InboundMessage, raw: bytes, parsed: Parsed) -> senders.Verdict | None:
    """The sender's verdict, or None when the policy is off or there is no sender to
    verify. Runs with no transaction open: it may wait CASEDESK_MAIL_VERIFY_SECONDS on
    DNS. A message being processed again (released by an agent) keeps the verdict it
    arrived with: the agent's click does not wait on DNS."""
    if settings.MAIL_SENDER_POLICY == "off" or not parsed.readable or not parsed.from_address:
        return None
    return senders.verify(
        raw,
        from_address=parsed.from_address,
        envelope_from=message.envelope_from if message.envelope_known else None,
        client_ip=message.client_ip,
        helo=message.helo,
    )


def _done(message: InboundMessage) -> Outcome:
    return Outcome(message.state, message.outcome, message.reason, message.case)


def _write(
    message: InboundMessage,
    parsed: Parsed,
    released_by: User | None,
    verdict: senders.Verdict | None,
) -> Outcome:
    was = message.state
    if released_by is not None:
        message.released_by = released_by
    if verdict is not None:
        message.sender_check = verdict.judgment
        message.sender_detail = verdict.reason
    message.message_id = parsed.message_id[:400]
    message.from_address = parsed.from_address[:320]
    message.subject = parsed.subject[:300]
    message.text = parsed.text[: BODY_MAX * 2]
    message.html = parsed.html[: BODY_MAX * 4]
    message.notice = parsed.notice
    trust = _trust(message, was=was, released_by=released_by)
    try:
        outcome = _decide(message, parsed, trust, released=released_by is not None)
    except _Hold as hold:
        outcome = hold.outcome
    message.state = outcome.state
    message.outcome = outcome.line[:400]
    message.reason = outcome.reason
    message.case = outcome.case
    message.event = outcome.event
    message.processed_at = timezone.now()
    if (
        outcome.state in (State.HELD, State.SUSPENDED)
        and released_by is None
        and rules.is_critical_subject(parsed.subject)
    ):
        # "CRITICAL: site down" from a new employee on an unknown domain, or from a
        # customer whose IT broke their SPF, must not wait silently for someone to look
        # at the mail list.
        from casedesk.mail.tasks import notify_held_critical

        notify_held_critical.enqueue(message.pk)
    # Never write the raw bytes back (megabytes, unchanged; not even loaded here).
    message.save(
        update_fields=[
            f.name
            for f in InboundMessage._meta.concrete_fields
            if f.name not in ("id", "raw", "digest")
        ]
    )
    logger.info("inbound message %s from %s: %s", message.pk, message.from_address, outcome.line)
    return outcome


def _decide(message: InboundMessage, parsed: Parsed, trust: _Trust, *, released: bool) -> Outcome:
    if not parsed.readable:
        return _needs_attention("; ".join(parsed.defects) or "unreadable")
    sender = parsed.from_address
    ours = rules.support_address(sender, settings.SUPPORT_EMAILS)
    if ours is not None or (sender and sender == _address_of(settings.DEFAULT_FROM_EMAIL)):
        return _ignored(f"sent from our own address {sender}")
    envelope = message.envelope_from if message.envelope_known else None
    automated = rules.automation(parsed, envelope)

    failures = rules.delivery_failures(parsed, envelope)
    if failures:
        return _bounce(message, parsed, failures)
    if parsed.report_type:
        return _ignored(f"a {parsed.report_type} report, no case")
    if automated.junk:
        return _ignored(automated.reason)
    if not sender:
        return _needs_attention("no readable sender address (From)")

    if not _claim(message, parsed):
        return _ignored(f"a second copy of {parsed.message_id or 'these bytes'}, already processed")

    person = _person(sender)
    if person is not None and not person.is_active:
        raise _Hold(_held(f"{sender} is deactivated: reactivate the person, or dismiss this"))
    if person is not None and person.is_vendor_staff and not released:
        # Anyone can write "From: agent@example.com". Mail from a staff address could
        # post a public "support" reply (a phishing link) into any case: an agent checks
        # it first, or answers in the desk.
        raise _Hold(
            _held(f"{sender} is a support staff address: reply in the desk, or process it anyway")
        )
    if person is None and trust.suspend and _organization_claiming(sender) is not None:
        trust.enforce()  # no new contact for a sender who may be a forger
    author = person or _new_contact(sender, parsed.from_name)
    case, how = _thread(parsed, author)
    if case is not None and author is not None and _may_reply(author, case):
        trust.enforce()
        return _reply(message, parsed, case, author, automated, trust, released=released)
    if case is not None and how in ("signed", "known"):
        # A reply to our own mail (or to the customer's) from someone outside the
        # case's organization, e.g. a forward to a partner: never add it to another
        # organization's case.
        raise _Hold(_held(f"{sender} answered {case.reference} but is not in its organization"))
    if automated.auto_replied:
        return _ignored(f"an auto-reply ({automated.reason}) that answers no case of ours")
    if author is None:
        if settings.MAIL_UNKNOWN_SENDER == "ignore":
            return _ignored(f"unknown sender {sender} (CASEDESK_MAIL_UNKNOWN_SENDER=ignore)")
        raise _Hold(_held(f"unknown sender {sender}: assign an organization in the desk"))
    if not author.is_customer:
        raise _Hold(_held(f"{sender} is support staff; a new case needs a customer"))
    trust.enforce()
    return _new_case(message, parsed, author, automated, trust)


# ---- Threading and people -----------------------------------------------------------


def _thread(parsed: Parsed, author: User | None) -> tuple[Case | None, str]:
    """The case this message answers, and how we know: "signed", "known", "subject".

    A subject reference counts only for a case the author may reply to: a number in
    a subject is easy to type, so it never leads into another organization's case.
    """
    thread_ids = parsed.thread_ids
    for mid in thread_ids:
        reference = reference_of_message_id(mid)
        if reference is not None:
            case = _case(parse_reference(reference))
            if case is not None:
                return case, "signed"
    if thread_ids:
        earlier = (
            InboundMessage.objects.filter(message_id__in=thread_ids, case__isnull=False)
            .select_related("case__organization")
            .only("pk", "case")
            .order_by("-received_at")
            .first()
        )
        if earlier is not None and earlier.case is not None:
            return earlier.case, "known"
    if author is not None:
        for number in rules.references_in_subject(parsed.subject)[:5]:
            case = _case(parse_reference(f"CD-{number}"))
            if case is not None and _may_reply(author, case):
                return case, "subject"
    return None, ""


def _person(address: str) -> User | None:
    return _remembered(
        lambda lookups: lookups.people,
        address,
        lambda: User.objects.filter(email=address).select_related("organization").first(),
    )


def _case(pk: int | None) -> Case | None:
    if pk is None:
        return None
    return Case.objects.select_related("organization", "priority").filter(pk=pk).first()


def _may_reply(author: User, case: Case) -> bool:
    return author.is_vendor_staff or author.organization_id == case.organization_id


def _new_contact(address: str, name: str) -> User | None:
    """A new contact of the organization that claims the address, or None.

    An address no organization claims (by its domain) belongs to no one, unless an
    agent assigned it (``UnknownSender``). A colleague the requester copied in, from
    the same domain, thus becomes a contact of the same organization.
    """
    organization = _organization_claiming(address)
    if organization is None:
        return None
    person: User | None
    try:
        with transaction.atomic():
            person = User.objects.create_user(
                address, role=Role.CUSTOMER, organization=organization, full_name=name[:200]
            )
    except IntegrityError:  # created by a concurrent message from the same person
        person = User.objects.filter(email=address, is_active=True).first()
    lookups = _lookups.get()
    if lookups is not None:
        # The batch's next message from this address finds the contact; a message rolled
        # back after this forgets it (forget_people).
        lookups.people[address] = person
    return person


def _organization_claiming(address: str) -> Organization | None:
    """The organization whose email domain is the address's, or that an agent assigned
    the address to."""

    def look_up() -> Organization | None:
        organization = organization_for_email(address)
        if organization is None:
            decided = UnknownSender.objects.filter(address=address).select_related("organization")
            organization = decided[0].organization if decided else None
        return organization

    return _remembered(lambda lookups: lookups.organizations, address, look_up)


def _claim(message: InboundMessage, parsed: Parsed) -> bool:
    """One action per message: per Message-ID with the same sender, subject and text.

    The same message delivered twice (two paths, a retry) has all four the same. A
    monitoring system that reuses one Message-ID for every alert does not: each alert
    is its own message. Mail without a Message-ID is keyed by its bytes.
    """
    if parsed.message_id:
        content = hashlib.sha256(
            "\x1f".join((parsed.from_address, parsed.subject, parsed.text)).encode(
                "utf-8", "replace"
            )
        ).hexdigest()[:32]
        key = f"{parsed.message_id[:360]}|{content}"
    else:
        key = f"sha256:{message.digest}"
    # No savepoint for an insert that may conflict: insert unless the key is there, then
    # see whose it is (ours: this message is being processed again, released by an agent).
    MessageKey.objects.bulk_create([MessageKey(key=key, message=message)], ignore_conflicts=True)
    return MessageKey.objects.filter(key=key).values_list("message_id", flat=True).get() == (
        message.pk
    )


def _address_of(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1].lower()


# ---- The outcomes -------------------------------------------------------------------


def _reply(
    message: InboundMessage,
    parsed: Parsed,
    case: Case,
    author: User,
    automated: rules.Automation,
    trust: _Trust,
    *,
    released: bool,
) -> Outcome:
    received = message.received_at
    body = _body(parsed, trim=True)
    within_limit = released or (
        ratelimit.attempt(INTO_CASE_PER_SENDER, f"{author.email}|{case.pk}").allowed
    )
    if automated.auto_replied:
        # An out-of-office answer to our mail: the agent should know, the case should
        # not reopen, and nobody answers it. A chatty robot gets a few notes, no more.
        if case.status == Status.CLOSED:
            return _ignored(f"an auto-reply to {case.reference}, which is closed", case)
        if not within_limit:
            return _ignored(f"an auto-reply to {case.reference}, over the per-case limit", case)
        event = system_note(case, f"[Auto-reply from {author.email}] {body}", at=received)
        return _ignored(
            f"an auto-reply to {case.reference} (kept as an internal note)", case, event
        )
    if not within_limit:
        rate = INTO_CASE_PER_SENDER.rate
        raise _Hold(
            _held(
                f"more than {rate.limit} messages from {author.email} into {case.reference} "
                f"within {rate.period} (a mail loop?)",
                case,
            )
        )
    uploads, refused = _uploads(parsed.parts)
    if case.status == Status.CLOSED:
        follow_up = _open(
            message,
            parsed,
            author,
            automated,
            trust,
            description=f"Follow-up to {case.reference}, which is closed.\n\n{body}",
        )
        if follow_up.case is not None:
            reference = follow_up.case.reference
            system_note(case, f"A mail about this closed case opened {reference}.", at=received)
        return follow_up
    try:
        event = add_reply(
            case,
            author,
            body or "(no text)",
            attachments=uploads,
            at=received,
            unverified_sender=bool(trust.unverified),
        )
    except CaseError as exc:
        return _needs_attention(f"{case.reference} refused the reply: {exc}")
    _note_trust(case, trust, f"The reply by mail from {author.email}: ")
    _note_refused(case, refused)
    _note_not_shown(case, message, parsed)
    return Outcome(State.REPLIED, f"replied {case.reference}", "", case, event)


def _new_case(
    message: InboundMessage,
    parsed: Parsed,
    author: User,
    automated: rules.Automation,
    trust: _Trust,
) -> Outcome:
    # A new case keeps the whole text: what looks like quoted history there is usually
    # a forwarded error message the customer wants us to read.
    return _open(message, parsed, author, automated, trust, description=_body(parsed, trim=False))


def _open(
    message: InboundMessage,
    parsed: Parsed,
    author: User,
    automated: rules.Automation,
    trust: _Trust,
    *,
    description: str,
) -> Outcome:
    critical_words = rules.is_critical_subject(parsed.subject)
    critical = critical_words and not automated
    priority = _priority(critical)
    uploads, refused = _uploads(parsed.parts)
    subject = " ".join(parsed.subject.split()) or "(no subject)"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    try:
        case, event = open_case_with_event(
            NewCase(
                requester=author,
                subject=subject,
                priority=priority,
                description=description[:BODY_MAX],
                channel=Channel.EMAIL,
                attachments=uploads,
                opened_at=message.received_at,
                confirm=False,
                unverified_sender=bool(trust.unverified),
            )
        )
    except CaseError as exc:
        return _needs_attention(f"the case could not be opened: {exc}")
    _note_trust(case, trust, "")
    if critical:
        system_note(
            case,
            "Opened as Critical because the email subject says so. Confirm which of "
            "(a), (b), (c) applies, or downgrade with a reason the customer sees.",
        )
    elif critical_words:
        system_note(
            case,
            f'The subject says "critical" but this is automated mail ({automated.reason}): '
            f"opened as {priority.name}, nobody was paged.",
        )
    _note_refused(case, refused)
    _note_not_shown(case, message, parsed)
    reason = ""
    if automated:
        reason = f"no auto-reply: {automated.reason}"
    elif not ratelimit.attempt(AUTO_REPLY_PER_SENDER, author.email).allowed:
        reason = f"no auto-reply: {author.email} had {AUTO_REPLY_PER_SENDER.rate.limit} this hour"
    else:
        from casedesk.cases.tasks import send_case_confirmation

        send_case_confirmation.enqueue(case.pk, auto_reply=True)
    return Outcome(
        State.CREATED, f"created {case.reference} {case.priority.name}", reason, case, event
    )


def _bounce(message: InboundMessage, parsed: Parsed, failures: list) -> Outcome:  # type: ignore[type-arg]
    """Record each failed or delayed recipient against the person and the case the
    returned mail was about: our signed Message-ID in the report's returned headers, an
    enclosed copy, the copy quoted in its text, or an SES notice's headers.

    A delay is noted as one, not as an undeliverable address. A report that names no
    address is recorded with none: still a bounce, never a case.
    """
    case = None
    for mid in [*rules.returned_message_ids(parsed), *parsed.thread_ids]:
        reference = reference_of_message_id(mid)
        if reference is not None:
            case = _case(parse_reference(reference))
            if case is not None:
                break
    now = timezone.now()
    for failure in failures:
        # The address we sent to, and where it was forwarded when the report says so:
        # both are recorded (either may be a contact's), one note says it all.
        addresses = [a for a in dict.fromkeys([failure.address, failure.final]) if a] or [""]
        for address in addresses:
            Bounce.objects.create(
                message=message,
                address=address[:320],
                status=failure.status[:16],
                action=failure.action[:16],
                diagnostic=failure.diagnostic,
                case=case,
                contact=User.objects.filter(email=address).first() if address else None,
                at=now,
            )
        if case is not None:
            who = failure.address or "a recipient (the report names no address)"
            if failure.final:
                who = f"{who} (forwarded to {failure.final})"
            if failure.action == "delayed":
                text = (
                    f"Mail to {who} is delayed ({failure.status}); the sending "
                    f"server keeps trying. {failure.diagnostic}"
                )
            elif failure.status.startswith("4"):
                text = (
                    f"Mail to {who} was not delivered: the sending server gave up after "
                    f"temporary failures ({failure.status}); the address may work later. "
                    f"{failure.diagnostic}"
                )
            else:
                text = (
                    f"Mail to {who} was not delivered: address undeliverable: "
                    f"{failure.status}. {failure.diagnostic}"
                )
            system_note(case, text.strip())
    first = failures[0]
    line = f"bounce {first.address or '(no address)'} {first.status}"
    if first.action == "delayed":
        line += " (delayed)"
    return Outcome(State.BOUNCE, line, "", case)


def _priority(critical: bool) -> Priority:
    return _remembered(
        lambda lookups: lookups.priorities, critical, lambda: _priority_now(critical)
    )


def _priority_now(critical: bool) -> Priority:
    if critical:
        found = Priority.objects.filter(is_critical=True).order_by("position").first()
        if found is not None:
            return found
    return default_priority()


def _body(parsed: Parsed, *, trim: bool) -> str:
    # Only what a case can keep is trimmed (this runs in the transaction).
    text = parsed.text[: BODY_MAX * 2]
    text = trim_quoted(text) if trim else text.strip()
    if len(text) > BODY_MAX:
        text = text[: BODY_MAX - 200] + "\n\n[Cut here: the full message is on the case's mail.]"
    return text


def _uploads(parts: list[Part]) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The attachments a case may keep, and what was refused (HTML, executables, size)."""
    kept: list[SimpleUploadedFile] = []
    refused: list[str] = []
    for part in parts:
        upload = SimpleUploadedFile(files.clean_name(part.name), part.data, part.content_type)
        if len(kept) >= settings.ATTACHMENT_MAX_FILES:
            refused.append(f"{upload.name}: more than {settings.ATTACHMENT_MAX_FILES} files")
            continue
        try:
            files.check([*kept, upload])
        except files.AttachmentRejected as exc:
            refused.append(f"{upload.name}: {exc}")
            continue
        upload.seek(0)
        kept.append(upload)
    for upload in kept:
        upload.seek(0)
    return kept, refused


def _note_trust(case: Case, trust: _Trust, prefix: str) -> None:
    """Say on the case why its sender is not verified, or who released the mail."""
    if trust.unverified:
        line = f"{prefix}{trust.unverified}"
        line = line[:1].upper() + line[1:]
        system_note(
            case,
            f"{line}. Check with the requester before acting on a critical request; the "
            "mail's sender panel on the desk has the details.",
        )
    elif trust.released:
        system_note(case, f"{prefix or 'The mail that opened this case: '}{trust.released}")


def _note_refused(case: Case, refused: list[str]) -> None:
    if refused:
        system_note(
            case,
            "Attachments not stored (the original mail keeps them):\n"
            + "\n".join(f"- {line}" for line in refused),
        )


def _note_not_shown(case: Case, message: InboundMessage, parsed: Parsed) -> None:
    """What of the mail the case cannot show (too large, too complex), and where the
    original is: the desk's download of the message as received."""
    if parsed.notice:
        link = settings.BASE_URL.rstrip("/") + reverse("mail:raw", args=[message.pk])
        system_note(case, f"{parsed.notice}\nThe original: {link}")
