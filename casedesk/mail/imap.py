"""Fetching mail from IMAP mailboxes (`casedesk imap`): stored first, marked after.

Each mailbox is a URL in ``CASEDESK_IMAP_MAILBOXES``::

    imaps://user:password@host[:993]/FOLDER?move=Processed     TLS from the first byte
    imap://user:password@host[:143]/FOLDER?starttls=1          STARTTLS, or no log-in at all
    imap://user:password@127.0.0.1:1143/INBOX                  plain text: this machine only

``cafile=/path/ca.pem`` trusts a private CA; the password is percent-decoded;
the folder defaults to INBOX. With ``move=`` a processed message is moved to
that folder (created if missing), otherwise it is flagged ``\\Seen`` and kept.

One round over a folder (:func:`fetch_round`):

1. Select the folder. A new UIDVALIDITY means the server renumbered it: start
   again from UID 0 (``store()`` recognises the bytes it already has).
2. ``UID SEARCH UID last+1:*``, keeping only UIDs above ``last`` (a server
   answers that range with its last message even when it is below).
3. Fetch sizes, then ``BODY.PEEK[]`` in batches (peeking leaves ``\\Seen``
   alone). For each message: ``store()`` commits it, *then* it is moved or
   flagged, *then* ``last_uid`` is saved. A crash between two steps fetches the
   message again and the digest check stores it once.
4. A message over ``CASEDESK_MAIL_MAX_MB`` is left where it is, logged and
   recorded in ``last_error``; the round moves past it (it would never fit).
   A database error ends the round with nothing marked: the next round retries.

`casedesk imap` runs one thread per mailbox (:func:`watch`): a round, then IDLE
when the server offers it (for at most ``CASEDESK_IMAP_POLL`` or 29 minutes,
RFC 2177's limit) or a plain wait, then the next round; network errors
reconnect with a doubling delay. Setting the ``stop`` event ends every thread
within about a second.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from casedesk.mail.models import MailboxState, Source
from casedesk.mail.store import MessageTooLarge, store

logger = logging.getLogger("casedesk.mail.imap")

Security = Literal["tls", "starttls", "plain"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"imaps": 993, "imap": 143}
QUERY_KEYS = frozenset({"move", "starttls", "cafile"})
YES, NO = frozenset({"1", "yes", "true"}), frozenset({"0", "no", "false"})
# RFC 2177: servers may drop a client idle for 30 minutes; re-issue IDLE before that.
IDLE_LIMIT = timedelta(minutes=29)
TIMEOUT = 60.0  # seconds for connecting and for each read, IDLE aside
SIZE_CHUNK = 200  # UIDs per size query
BATCH_BYTES = 16 * 2**20  # bodies fetched per command (one larger message goes alone)
SEEN, DELETED = b"\\Seen", b"\\Deleted"


class InsecureConnection(Exception):
    """TLS was asked for and cannot be had: the password is not sent (fail closed)."""


# What a round may meet besides bugs: the network, the server, TLS, the database.
ROUND_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    IMAPClientError,
    InsecureConnection,
    DatabaseError,
)


@dataclass(frozen=True)
class Mailbox:
    """One folder to fetch from, as parsed from its URL. Validated on construction."""

    host: str
    user: str
    password: str = field(repr=False)
    security: Security = "tls"
    port: int = 993
    folder: str = "INBOX"
    move_to: str = ""  # "" keeps messages in the folder, flagged \Seen
    cafile: str = ""  # a private CA's PEM file; "" uses the system's

    def __post_init__(self) -> None:
        if not self.host or not self.user or not self.password:
            raise ValueError("the URL needs user:password@host")
        if self.security == "plain" and self.host.lower() not in LOCAL_HOSTS:
            raise ValueError(
                "plain-text IMAP login is only allowed to this machine: use imaps:// "
                "or imap://...?starttls=1"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        for name, value in (("folder", self.folder), ("move", self.move_to)):
            if any(ord(char) < 32 or ord(char) == 127 for char in value):
                raise ValueError(f"the {name} name contains a control character")
        if not self.folder:
            raise ValueError("the folder name is empty")
        if self.move_to and self.move_to == self.folder:
            raise ValueError("move= names the folder being fetched")
        if self.cafile and not Path(self.cafile).is_file():
            raise ValueError(f"cafile {self.cafile!r} is not a file")

    @property
    def key(self) -> str:
        """The state row's key: user@host/folder."""
        return f"{self.user}@{self.host}/{self.folder}"

    @property
    def label(self) -> str:
        """For logs and output: everything but the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_mailbox(url: str) -> Mailbox:
    """Parse one mailbox URL strictly; a :class:`ValueError` names what is wrong.

    The password never appears in the error.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL (check the host and the port)") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("the URL must start with imaps:// or imap://")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    if parts.username is None or parts.password is None:
        raise ValueError("the URL needs user:password@host")
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("the query string is malformed") from None
    options: dict[str, str] = {}
    for name, value in query:
        if name not in QUERY_KEYS:
            raise ValueError(f"unknown option {name!r} (known: cafile, move, starttls)")
        if name in options:
            raise ValueError(f"option {name!r} is given twice")
        options[name] = value
    starttls = options.get("starttls", "0").lower()
    if starttls not in YES | NO:
        raise ValueError("starttls= must be 1 or 0")
    if parts.scheme == "imaps" and "starttls" in options:
        raise ValueError("starttls= is for imap://; imaps:// is TLS from the start")
    security: Security = (
        "tls" if parts.scheme == "imaps" else "starttls" if starttls in YES else "plain"
    )
    if "move" in options and not options["move"]:
        raise ValueError("move= needs a folder name")
    if "cafile" in options and not options["cafile"]:
        raise ValueError("cafile= needs a path")
    return Mailbox(
        host=parts.hostname or "",
        user=unquote(parts.username),
        password=unquote(parts.password),
        security=security,
        port=port if port is not None else DEFAULT_PORTS[parts.scheme],
        folder=unquote(parts.path.removeprefix("/")) or "INBOX",
        move_to=options.get("move", ""),
        cafile=options.get("cafile", ""),
    )


def check_mailboxes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A system check (`casedesk check`, start-up) that CASEDESK_IMAP_MAILBOXES parses."""
    try:
        parse_mailboxes(settings.IMAP_MAILBOXES)
    except ValueError as exc:
        return [checks.Error(str(exc), id="mail.E010")]
    return []


def parse_mailboxes(urls: Sequence[str]) -> list[Mailbox]:
    """Every configured mailbox; the error names the URL by position (not by its password)."""
    mailboxes = []
    for number, url in enumerate(urls, start=1):
        try:
            mailboxes.append(parse_mailbox(url))
        except ValueError as exc:
            raise ValueError(f"CASEDESK_IMAP_MAILBOXES, mailbox {number}: {exc}") from None
    keys = [mailbox.key for mailbox in mailboxes]
    if len(set(keys)) != len(keys):
        raise ValueError("CASEDESK_IMAP_MAILBOXES names the same folder twice")
    return mailboxes


# ---- Connecting ----


def connect(mailbox: Mailbox, *, timeout: float = TIMEOUT) -> Any:
    """A logged-in :class:`IMAPClient`, over TLS unless the mailbox is on this machine.

    Raises :class:`InsecureConnection` before the password is sent when STARTTLS
    was asked for and the server does not offer it.
    """
    context = ssl.create_default_context(cafile=mailbox.cafile or None)
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port,
        ssl=mailbox.security == "tls",
        ssl_context=context,
        timeout=timeout,
    )
    try:
        if mailbox.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise InsecureConnection(
                    f"{mailbox.host}:{mailbox.port} does not offer STARTTLS; "
                    "refusing to send the password in plain text"
                )
            client.starttls(context)
        client.login(mailbox.user, mailbox.password)
    except BaseException:
        _close(client)
        raise
    return client


def _close(client: Any) -> None:
    try:
        client.shutdown()
    except (OSError, IMAPClientError):
        pass


@contextmanager
def session(mailbox: Mailbox) -> Iterator[Any]:
    """Connect and log in, create the ``move=`` folder if missing; log out at the end."""
    client = connect(mailbox)
    try:
        if mailbox.move_to and not client.folder_exists(mailbox.move_to):
            client.create_folder(mailbox.move_to)
            logger.info("%s: created folder %s", mailbox.label, mailbox.move_to)
        yield client
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            _close(client)


# ---- One round ----


@dataclass
class Round:
    stored: int = 0  # new messages committed
    again: int = 0  # fetched again, already stored (a crash before marking, a new UIDVALIDITY)
    too_large: list[int] = field(default_factory=list)  # UIDs left in the folder


def fetch_round(client: Any, mailbox: Mailbox, stop: threading.Event | None = None) -> Round:
    """Store every message above the saved UID, then mark it, then save its UID.

    Raises a :class:`DatabaseError` (nothing after the failing message is marked),
    or the network's errors.
    """
    state, _ = MailboxState.objects.get_or_create(key=mailbox.key)
    selected = client.select_folder(mailbox.folder)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    if state.uidvalidity != uidvalidity:
        if state.uidvalidity is not None:
            logger.warning(
                "%s: UIDVALIDITY changed from %s to %s: fetching the folder again "
                "(messages already stored are recognised)",
                mailbox.label,
                state.uidvalidity,
                uidvalidity,
            )
        state.uidvalidity, state.last_uid = uidvalidity, 0
        state.save(update_fields=["uidvalidity", "last_uid"])
    result = Round()
    last = state.last_uid
    uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start : start + SIZE_CHUNK]
        sizes = {
            uid: int(data.get(b"RFC822.SIZE", 0))
            for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
        }
        # A UID without a size was expunged meanwhile: nothing to fetch.
        for batch in _batches([uid for uid in chunk if uid in sizes], sizes):
            fits = [uid for uid in batch if sizes[uid] <= settings.MAIL_MAX_BYTES]
            bodies = client.fetch(fits, ["BODY.PEEK[]"]) if fits else {}
            for uid in batch:
                if stop is not None and stop.is_set():
                    return _finish(state, result)
                raw = bodies.get(uid, {}).get(b"BODY[]")
                if uid not in fits:
                    _too_large(state, mailbox, uid, sizes[uid], result)
                elif raw is None:
                    logger.info("%s: UID %s was removed before it was fetched", mailbox.label, uid)
                else:
                    _take(client, mailbox, state, uid, bytes(raw), result)
                state.last_uid = uid
                state.save(update_fields=["last_uid"])
    return _finish(state, result)


def _batches(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Consecutive UIDs whose bodies add up to at most BATCH_BYTES (at least one each)."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = min(sizes[uid], settings.MAIL_MAX_BYTES + 1)
        if batch and total + size > BATCH_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _take(
    client: Any, mailbox: Mailbox, state: MailboxState, uid: int, raw: bytes, result: Round
) -> None:
    """Store (commit), then mark; a store that fails leaves the message as it was."""
    try:
        # No client IP or HELO: the mailbox's own MTA took the message, and only it saw
        # the sending server. SPF has nothing to check here; DKIM still does, and the
        # MTA's own verdict counts through CASEDESK_MAIL_TRUSTED_AUTHSERV_ID (README).
        stored = store(raw, source=Source.IMAP)
    except MessageTooLarge:
        _too_large(state, mailbox, uid, len(raw), result)
        return
    if stored.new:
        result.stored += 1
    else:
        result.again += 1
    mark(client, mailbox, uid)


def mark(client: Any, mailbox: Mailbox, uid: int) -> None:
    """Flag the message \\Seen; with ``move=`` also move it there."""
    client.add_flags([uid], [SEEN])
    if not mailbox.move_to:
        return
    if client.has_capability("MOVE"):
        client.move([uid], mailbox.move_to)
        return
    client.copy([uid], mailbox.move_to)
    client.add_flags([uid], [DELETED])
    if client.has_capability("UIDPLUS"):  # expunge this message only, never another's
        client.uid_expunge([uid])


def _too_large(state: MailboxState, mailbox: Mailbox, uid: int, size: int, result: Round) -> None:
    problem = (
        f"UID {uid} in {mailbox.folder} is {size:,} bytes, over the limit of "
        f"{settings.MAIL_MAX_BYTES:,} (CASEDESK_MAIL_MAX_MB): left in the folder, not stored"
    )
    logger.error("%s: %s", mailbox.label, problem)
    result.too_large.append(uid)
    state.last_error, state.last_error_at = problem, timezone.now()
    state.save(update_fields=["last_error", "last_error_at"])


def _finish(state: MailboxState, result: Round) -> Round:
    state.checked_at = timezone.now()
    state.save(update_fields=["checked_at"])
    return result


def fetch_once(mailbox: Mailbox) -> Round:
    """Connect, run one round, log out (`casedesk imap --once`)."""
    with session(mailbox) as client:
        return fetch_round(client, mailbox)


def record_error(mailbox: Mailbox, problem: str) -> None:
    """Note a failed round on the mailbox's state, if the database is there to take it."""
    try:
        MailboxState.objects.update_or_create(
            key=mailbox.key, defaults={"last_error": problem, "last_error_at": timezone.now()}
        )
    except DatabaseError:
        connection.close()


# ---- Running ----


def wait_for_mail(client: Any, stop: threading.Event, seconds: float) -> None:
    """IDLE until the folder changes, ``seconds`` pass or ``stop`` is set; else just wait."""
    seconds = min(seconds, IDLE_LIMIT.total_seconds())
    if not client.has_capability("IDLE"):
        stop.wait(seconds)
        return
    deadline = time.monotonic() + seconds
    client.idle()
    try:
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            began = time.monotonic()
            step = min(1.0, left)
            responses = client.idle_check(timeout=step)
            if any(_news(response) for response in responses):
                break
            if not responses and time.monotonic() - began < step / 2:
                break  # readable yet nothing to read: the server closed the connection
    finally:
        client.idle_done()


def _news(response: Any) -> bool:
    """New mail (``* 5 EXISTS``) or the server going away (``* BYE``)."""
    return isinstance(response, tuple) and any(part in (b"EXISTS", b"BYE") for part in response[:2])


def watch(
    mailbox: Mailbox,
    stop: threading.Event,
    *,
    poll: timedelta | None = None,
    first_delay: float = 1.0,
    max_delay: float = 300.0,
) -> None:
    """Fetch from ``mailbox`` until ``stop`` is set, reconnecting with a doubling delay."""
    wait = (poll or settings.IMAP_POLL).total_seconds()
    delay = first_delay
    try:
        while not stop.is_set():
            try:
                with session(mailbox) as client:
                    while not stop.is_set():
                        close_old_connections()
                        result = fetch_round(client, mailbox, stop)
                        delay = first_delay
                        if result.stored:
                            logger.info("%s: stored %d", mailbox.label, result.stored)
                        wait_for_mail(client, stop, wait)
            except Exception as exc:  # a daemon outlives any one failure: log, wait, retry
                problem = describe(exc)
                level = logging.ERROR if _expected(exc) else logging.CRITICAL
                logger.log(
                    level,
                    "%s: %s (again in %.0f s)",
                    mailbox.label,
                    problem,
                    delay,
                    exc_info=not _expected(exc),
                )
                if isinstance(exc, DatabaseError):
                    connection.close()
                else:
                    record_error(mailbox, problem)
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
    finally:
        connection.close()


def _expected(exc: Exception) -> bool:
    return isinstance(exc, ROUND_ERRORS)


def describe(exc: Exception) -> str:
    """One line for logs, the state row and the command's output."""
    if isinstance(exc, DatabaseError):
        return f"the database is unavailable, nothing marked: {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS failed: {exc}"
    if isinstance(exc, OSError) and not str(exc):
        return type(exc).__name__
    return str(exc) or type(exc).__name__


def start(mailboxes: Sequence[Mailbox], stop: threading.Event) -> list[threading.Thread]:
    """One :func:`watch` thread per mailbox."""
    threads = [
        threading.Thread(target=watch, args=(mailbox, stop), name=f"imap {mailbox.label}")
        for mailbox in mailboxes
    ]
    for thread in threads:
        thread.start()
    return threads
