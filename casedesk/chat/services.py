"""Live chat: who may chat when, and every change to a chat (the one place chats change).

Views and consumers are thin: they call these, which validate, store, and then announce
the change on the channel layer once it is committed (``broadcast``). A message is in the
database before anyone hears of it, so a client that reconnects re-reads the whole chat.

Errors a person can fix raise :class:`ChatError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.cases import files
from casedesk.cases import services as cases
from casedesk.cases.models import Case, Channel, Event
from casedesk.chat import broadcast, policies
from casedesk.chat.models import (
    OPEN_STATUSES,
    ChatMessage,
    ChatSession,
    ChatStatus,
    MessageKind,
    Presence,
)
from casedesk.core import ratelimit
from casedesk.hours.services import HoursStatus, current_calendar, status

MESSAGE_MAX = 4000
SUBJECT_FROM_CHAT = "Chat with {name}"


class ChatError(ValueError):
    """Something a person can fix or should be told; the message says what."""


# ---- Availability ------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    hours: HoursStatus
    agents_available: bool

    @property
    def open(self) -> bool:
        return self.hours.open and self.agents_available

    @property
    def reopens_at(self) -> datetime | None:
        """When chat opens again: the next opening of support (None while hours are open,
        where only an agent coming back can reopen it, and when the calendar never opens)."""
        return None if self.hours.open else self.hours.next_open


def agents_available(now: datetime | None = None) -> bool:
    since = (now or timezone.now()) - settings.CHAT_PRESENCE_TIMEOUT
    return Presence.objects.filter(
        available=True, last_seen__gt=since, agent__is_active=True
    ).exists()


def availability(now: datetime | None = None) -> Availability:
    now = now or timezone.now()
    return Availability(
        hours=status(current_calendar(), now), agents_available=agents_available(now)
    )


# Every open widget asks /chat/state about every 30 s: the answer is shared (through the
# cache, across processes with REDIS_URL) for at most this long.
STATE_CACHE_SECONDS = 5


def _state_key(now: datetime) -> str:
    # One key per STATE_CACHE_SECONDS slice of time: an answer never outlives its slice.
    return f"chat:open:{int(now.timestamp()) // STATE_CACHE_SECONDS}"


def open_now() -> bool:
    """``availability().open`` now, shared for up to STATE_CACHE_SECONDS. It is forgotten
    at once when an agent switches on or off (or comes back), or a calendar changes; only
    a heartbeat going stale or the opening hour itself is seen up to that much late."""
    now = timezone.now()
    key = _state_key(now)
    cached = cache.get(key)
    if cached is None:
        cached = availability(now).open
        cache.set(key, cached, STATE_CACHE_SECONDS * 2)
    return bool(cached)


def forget_open_state(**_: Any) -> None:
    """Presence or a calendar changed: the next ``open_now`` asks the database (also a
    receiver of the calendars' save and delete signals, see ``apps.py``)."""
    cache.delete(_state_key(timezone.now()))


def heartbeat(agent: User, available: bool | None = None) -> Presence:
    """The agent's console is open; ``available`` switches them on or off for new chats."""
    if staff_member(agent) is None:
        raise ChatError("Only support staff take chats.")
    now = timezone.now()
    presence, created = Presence.objects.get_or_create(agent=agent)
    counted = (
        not created
        and presence.available
        and now - presence.last_seen < settings.CHAT_PRESENCE_TIMEOUT
    )
    presence.last_seen = now
    if available is not None:
        presence.available = available
    presence.save(update_fields=["last_seen", "available"])
    if presence.available != counted:
        forget_open_state()
    return presence


# ---- Who sees which chat (the tenant rule, in one place) ---------------------------------


def chats_visible_to(user: User | AnonymousUser) -> QuerySet[ChatSession]:
    """Support staff see every chat; a customer only their own (not a colleague's)."""
    if staff_member(user) is not None:
        return ChatSession.objects.all()
    if isinstance(user, User) and user.is_active and user.is_customer:
        return ChatSession.objects.filter(customer=user)
    return ChatSession.objects.none()


def session_for(user: User | AnonymousUser, pk: object) -> ChatSession | None:
    """The chat ``pk`` if this person may see it, else None (the caller answers 404)."""
    try:
        number = int(str(pk))
    except ValueError:
        return None
    if not 0 < number < 2**63:
        return None
    return (
        chats_visible_to(user).select_related("agent", "customer", "case").filter(pk=number).first()
    )


def open_chat_of(customer: User) -> ChatSession | None:
    return ChatSession.objects.filter(customer=customer, status__in=OPEN_STATUSES).last()


# ---- Starting, messages, files ----------------------------------------------------------


def _system(session: ChatSession, body: str) -> ChatMessage:
    message = ChatMessage.objects.create(session=session, kind=MessageKind.SYSTEM, body=body)
    _announce_message(message)
    return message


def _announce_message(message: ChatMessage) -> None:
    broadcast.after_commit(
        broadcast.session_group(message.session_id),
        {"type": "chat.message", "message": serialize(message)},
    )


def _announce_state(session: ChatSession) -> None:
    broadcast.after_commit(
        broadcast.session_group(session.pk), {"type": "chat.state", "session": describe(session)}
    )
    broadcast.after_commit(broadcast.DESK_GROUP, {"type": "queue.changed"})


def _limit(policy: ratelimit.RatePolicy, user: User, what: str) -> None:
    decision = ratelimit.attempt(policy, f"user:{user.pk}")
    if not decision.allowed:
        wait = max(1, int((decision.retry_after or timedelta(seconds=1)).total_seconds()))
        raise ChatError(f"Too many {what}; try again in {wait} seconds.")


def start(customer: User, now: datetime | None = None) -> ChatSession:
    """The customer's open chat, or a new one in the queue when chat is open."""
    if not customer.is_active or not customer.is_customer or customer.organization_id is None:
        raise ChatError("Chat is for customers of a support organization.")
    existing = open_chat_of(customer)
    if existing is not None:
        return existing
    if not availability(now).open:
        raise ChatError("Chat is closed now; leave a message and we open a case for you.")
    _limit(policies.STARTS_PER_USER, customer, "new chats")
    try:
        with transaction.atomic():
            session = ChatSession.objects.create(
                customer=customer,
                organization_id=customer.organization_id,
                created_at=now or timezone.now(),
            )
            _system(session, "You are in the queue; an agent will be with you shortly.")
            _announce_state(session)
    except IntegrityError:
        # Two tabs started at the same moment: the database keeps one open chat per
        # customer (chat_one_open_per_customer), and the other tab resumes it.
        existing = open_chat_of(customer)
        if existing is None:
            raise
        ratelimit.refund(policies.STARTS_PER_USER, f"user:{customer.pk}")
        return existing
    return session


def _require_participant(session: ChatSession, author: User) -> None:
    if staff_member(author) is not None:
        if session.status == ChatStatus.ACTIVE and session.agent_id != author.pk:
            raise ChatError("Another agent has this chat; ask them to transfer it to you.")
        if session.status == ChatStatus.WAITING:
            raise ChatError("Accept the chat before writing in it.")
    elif session.customer_id != author.pk:
        raise ChatError("This is not your chat.")
    if not session.is_open:
        raise ChatError("This chat has ended.")


# JSON can carry a lone surrogate ("\ud800") that no UTF-8 database can store.
UNSTORABLE = "That text has a character we cannot store (a lone surrogate); type it again."


def storable(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (it has no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _require_storable(*texts: object) -> None:
    if not all(storable(text) for text in texts if isinstance(text, str)):
        raise ChatError(UNSTORABLE)


def post(session: ChatSession, author: User, body: object) -> ChatMessage:
    """Store one text message (then announce it)."""
    text = body.strip() if isinstance(body, str) else ""
    if not text:
        raise ChatError("Write a message.")
    _require_storable(text)
    if len(text) > MESSAGE_MAX or "\x00" in text:
        raise ChatError(f"Keep a message under {MESSAGE_MAX} characters, or attach a file.")
    session.refresh_from_db(fields=["status", "agent"])
    _require_participant(session, author)
    # One write transaction: the hit counts only if the message is stored (and SQLite's
    # single writer is taken once per message, not twice).
    with transaction.atomic():
        _limit(policies.MESSAGES_PER_USER, author, "messages")
        message = ChatMessage.objects.create(
            session=session, author=author, kind=MessageKind.TEXT, body=text
        )
        _announce_message(message)
    return message


def post_file(session: ChatSession, author: User, upload: UploadedFile) -> ChatMessage:
    """Store a file sent in the chat: the same checks as a file on a case."""
    try:
        files.check([upload])
    except files.AttachmentRejected as exc:
        raise ChatError(str(exc)) from None
    session.refresh_from_db(fields=["status", "agent"])
    _require_participant(session, author)
    name = files.clean_name(upload.name or "")
    with transaction.atomic():
        _limit(policies.FILES_PER_USER, author, "files")
        message = ChatMessage(
            session=session,
            author=author,
            kind=MessageKind.FILE,
            body=name,
            file_name=name,
            file_size=upload.size or 0,
        )
        message.file.save(name, upload, save=False)
        message.save()
        _announce_message(message)
    return message


def history(session: ChatSession, after: int = 0) -> list[ChatMessage]:
    return list(session.messages.select_related("author").filter(pk__gt=after).order_by("pk"))


# ---- Agents: accept, transfer, end ---------------------------------------------------


def _require_staff(person: User) -> None:
    if staff_member(person) is None:
        raise ChatError("Only support staff can do that.")


def accept(session: ChatSession, agent: User) -> ChatSession:
    """Take a waiting chat. Claimed with a conditional UPDATE: of two agents clicking at
    once, one gets it and the other is told."""
    _require_staff(agent)
    now = timezone.now()
    with transaction.atomic():
        taken = ChatSession.objects.filter(pk=session.pk, status=ChatStatus.WAITING).update(
            status=ChatStatus.ACTIVE, agent=agent, accepted_at=now
        )
        if not taken:
            raise ChatError("Another agent took this chat, or it has ended.")
        session.refresh_from_db()
        _system(session, f"{agent.get_short_name()} joined the chat.")
        _announce_state(session)
    return session


def transfer(session: ChatSession, by: User, to: User) -> ChatSession:
    _require_staff(by)
    if staff_member(to) is None:
        raise ChatError("Transfer to an active agent.")
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != ChatStatus.ACTIVE or locked.agent_id != by.pk:
            raise ChatError("Only the agent who has the chat can transfer it.")
        if to.pk == by.pk:
            raise ChatError("Choose another agent.")
        locked.agent = to
        locked.save(update_fields=["agent"])
        _system(locked, f"{by.get_short_name()} transferred the chat to {to.get_short_name()}.")
        _announce_state(locked)
    session.refresh_from_db()
    return session


def end(session: ChatSession, by: User) -> ChatSession:
    if staff_member(by) is None and session.customer_id != by.pk:
        raise ChatError("This is not your chat.")
    with transaction.atomic():
        ended = ChatSession.objects.filter(pk=session.pk, status__in=OPEN_STATUSES).update(
            status=ChatStatus.ENDED, ended_at=timezone.now()
        )
        session.refresh_from_db()
        if ended:
            _system(session, f"{by.get_short_name()} ended the chat.")
            _announce_state(session)
    return session


def waiting_queue() -> QuerySet[ChatSession]:
    """Waiting chats in the order they should be taken: the longest wait first."""
    return (
        ChatSession.objects.filter(status=ChatStatus.WAITING)
        .select_related("customer", "organization")
        .order_by("created_at", "pk")
    )


def offers_case(session: ChatSession, now: datetime | None = None) -> bool:
    """Whether the customer is offered to leave a case instead of waiting on."""
    now = now or timezone.now()
    return (
        session.status == ChatStatus.WAITING
        and now - session.created_at >= settings.CHAT_WAIT_LIMIT
    )


# ---- Cases: the transcript goes on the case's timeline -----------------------------------


def transcript(session: ChatSession) -> str:
    """The chat as plain text, times in the support calendar's zone."""
    zone = current_calendar().zone
    lines = [f"Chat transcript (chat {session.pk}, times {zone.key}):", ""]
    for message in history(session):
        when = message.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if message.kind == MessageKind.SYSTEM:
            lines.append(f"[{when}] ({_indented(message.body)})")
        else:
            who = " ".join(message.author.get_full_name().split()) if message.author else ""
            text = (
                f"sent a file: {message.file_name}"
                if message.kind == MessageKind.FILE
                else message.body
            )
            lines.append(f"[{when}] {who or 'someone'}: {_indented(text)}")
    return "\n".join(lines)


def _indented(text: str) -> str:
    """A message's own lines after its first, indented: no line a customer writes can pass
    for a line of the transcript ("[time] Name: ..."), such as an agent's promise."""
    return CONTINUATION.join(text.splitlines())


CONTINUATION = "\n    "
TRANSCRIPT_CUT = "\n\n[The transcript is cut here; the whole chat is in the attached {name}.]"


def case_text(session: ChatSession) -> tuple[str, list[UploadedFile]]:
    """The transcript for a case's timeline, and the files to attach with it.

    A chat longer than a case body is cut to fit, with a line saying so, and the whole
    transcript goes on the case as a text file: a long chat still becomes a case.
    """
    text = transcript(session)
    if len(text) <= cases.BODY_MAX:
        return text, []
    name = f"chat-{session.pk}-transcript.txt"
    note = TRANSCRIPT_CUT.format(name=name)
    cut = text[: cases.BODY_MAX - len(note)].rstrip() + note
    whole = SimpleUploadedFile(name, text.encode(), content_type="text/plain")
    return cut, [whole]


def _as_case_error(exc: cases.CaseError) -> ChatError:
    return ChatError(str(exc))


def leave_message(customer: User, subject: object, body: object) -> Case:
    """The offline form: a case on the chat channel (counted against the customer's rate)."""
    if not customer.is_customer:
        raise ChatError("Only customers leave messages here.")
    # Counted up front (parallel posts cannot all pass), given back when no case was opened.
    _limit(policies.LEAVES_PER_USER, customer, "messages left")
    try:
        return _chat_case(customer, subject, body)
    except ChatError:
        ratelimit.refund(policies.LEAVES_PER_USER, f"user:{customer.pk}")
        raise


def _chat_case(
    customer: User, subject: object, body: object, attachments: Sequence[UploadedFile] = ()
) -> Case:
    """A customer's case on the chat channel."""
    if not customer.is_customer:
        raise ChatError("Only customers leave messages here.")
    _require_storable(subject, body)
    try:
        return cases.open_case(
            cases.NewCase(
                requester=customer,
                subject=subject if isinstance(subject, str) else "",
                description=body if isinstance(body, str) else "",
                priority=cases.default_priority(),
                channel=Channel.CHAT,
                attachments=attachments,
            )
        )
    except cases.CaseError as exc:
        raise _as_case_error(exc) from None


def leave_case_from_chat(session: ChatSession, customer: User) -> Case:
    """A waiting customer gives up waiting: the chat so far becomes a case."""
    if session.customer_id != customer.pk:
        raise ChatError("This is not your chat.")
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != ChatStatus.WAITING:
            raise ChatError(
                "An agent is already with you." if locked.is_open else "This chat has ended."
            )
        first = locked.messages.filter(kind=MessageKind.TEXT).first()
        subject = (first.body.splitlines()[0][:120] if first else "") or SUBJECT_FROM_CHAT.format(
            name=customer.get_full_name()
        )
        body, whole = case_text(locked)
        case = _chat_case(customer, subject, body, whole)
        locked.status = ChatStatus.LEFT_MESSAGE
        locked.ended_at = timezone.now()
        locked.case = case
        locked.save(update_fields=["status", "ended_at", "case"])
        _system(locked, f"Left as case {case.reference}; we will answer there.")
        _announce_state(locked)
    return case


def to_case(session: ChatSession, agent: User, subject: object = "") -> Case:
    """Turn the chat into a new case for its customer, with the transcript on it."""
    _require_staff(agent)
    customer = session.customer
    text = subject.strip() if isinstance(subject, str) else ""
    _require_storable(text)
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().get(pk=session.pk)
        if locked.case_id is not None:
            raise ChatError("This chat is already on a case.")
        body, whole = case_text(locked)
        try:
            case = cases.open_case(
                cases.NewCase(
                    requester=customer,
                    subject=text or SUBJECT_FROM_CHAT.format(name=customer.get_full_name()),
                    description=body,
                    attachments=whole,
                    priority=cases.default_priority(),
                    channel=Channel.CHAT,
                    opened_by=agent,
                    opened_at=locked.created_at,
                )
            )
        except cases.CaseError as exc:
            raise _as_case_error(exc) from None
        responded = _first_response(locked)
        if responded is not None:
            # Support answered in the chat: the case's first-response clock has stopped.
            case.first_responded_at = responded
            case.next_due = cases.next_due(case)
            case.save(update_fields=["first_responded_at", "next_due"])
        _link(
            locked, case, f"{agent.get_short_name()} opened case {case.reference} from this chat."
        )
    session.refresh_from_db()
    return case


def _first_response(session: ChatSession) -> datetime | None:
    """When support first answered in the chat: its first message, else the acceptance."""
    first = (
        session.messages.filter(kind__in=(MessageKind.TEXT, MessageKind.FILE))
        .exclude(author=None)
        .exclude(author_id=session.customer_id)
        .order_by("at", "pk")
        .first()
    )
    return first.at if first is not None else session.accepted_at


def attach_to_case(session: ChatSession, agent: User, case: Case) -> Event:
    """Put the transcript on an existing case of the same organization.

    On the customer's own case it is a public reply; on a colleague's case it is an
    internal note: the colleague (and whoever follows their case) must not be sent a
    conversation they were not part of.
    """
    _require_staff(agent)
    if case.organization_id != session.organization_id:
        raise ChatError("That case belongs to another organization.")
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().get(pk=session.pk)
        if locked.case_id is not None:
            raise ChatError("This chat is already on a case.")
        try:
            body, whole = case_text(locked)
            public = case.requester_id == locked.customer_id
            event = cases.add_reply(case, agent, body, public=public, attachments=whole)
        except cases.CaseError as exc:
            raise _as_case_error(exc) from None
        _link(locked, case, f"{agent.get_short_name()} added this chat to case {case.reference}.")
    session.refresh_from_db()
    return event


def _link(session: ChatSession, case: Case, note: str) -> None:
    session.case = case
    fields = ["case"]
    if session.is_open:
        session.status = ChatStatus.ENDED
        session.ended_at = timezone.now()
        fields += ["status", "ended_at"]
    session.save(update_fields=fields)
    _system(session, note)
    _announce_state(session)


# ---- What clients are sent -----------------------------------------------------------


def serialize(message: ChatMessage) -> dict[str, Any]:
    author = message.author
    role = "system" if author is None else ("agent" if author.is_vendor_staff else "customer")
    data: dict[str, Any] = {
        "id": message.pk,
        "kind": message.kind,
        "body": message.body,
        "author": author.get_full_name() if author else "",
        "role": role,
        "at": message.at.isoformat(),
    }
    if message.kind == MessageKind.FILE:
        data["url"] = reverse("chat:file", args=[message.session_id, message.pk])
        data["size"] = message.file_size
    return data


def describe(session: ChatSession, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "id": session.pk,
        "status": session.status,
        # A display name only: customers see this too (no staff ids or emails).
        "agent": session.agent.get_short_name() if session.agent else "",
        "customer": session.customer.get_full_name(),
        "organization": session.organization.name,
        "created_at": session.created_at.isoformat(),
        # Clients count on from this (their own clock may be wrong).
        "waited_seconds": max(0, int((now - session.created_at).total_seconds())),
        "case": session.case.reference if session.case else "",
        "offers_case": offers_case(session, now),
        "wait_limit_seconds": int(settings.CHAT_WAIT_LIMIT.total_seconds()),
    }


def describe_all(sessions: Sequence[ChatSession]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [describe(session, now) for session in sessions]
