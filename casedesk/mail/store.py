"""The first step of every way in (SMTP, IMAP, pipe): commit the raw bytes, then process.

STYLE practice 5: an inbound adapter stores what it received before it does
anything else with it, so a crash, a parser bug or a refused case never loses a
message. Processing is a task enqueued in the same transaction (django-tasks-db
writes the task row there), so a stored message always gets processed, and the
sweep in :mod:`casedesk.mail.tasks` catches any that did not.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

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
    client_ip: str | None = None,
    helo: str = "",
) -> Stored:
    """Commit ``raw`` and enqueue its processing; the same bytes twice are stored once.

    ``envelope_from`` is the SMTP ``MAIL FROM`` ("" for the null sender of a bounce),
    or ``None`` when the path does not know it (IMAP). ``client_ip`` and ``helo`` are
    the sending server as the receiver saw it (what SPF checks; see
    :func:`client_address` and :func:`helo_name`). Raises
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
    # No look for the digest first: it is unique, so the insert itself tells a copy (one
    # statement a message fewer; a copy, rare, costs a rolled-back insert).
    try:
        with transaction.atomic():
            client = client_address(client_ip)
            message = InboundMessage.objects.create(
                source=source,
                envelope_from=(envelope_from or "")[:400],
                envelope_known=envelope_from is not None,
                envelope_to=", ".join(recipients)[:10_000],
                client_ip=client,
                helo=helo_name(helo),
                digest=digest,
                raw=raw,
                size=len(raw),
            )
            from casedesk.mail.tasks import enqueue_processing

            critical = subject_says_critical(raw) and _may_take_the_critical_lane(raw, client)
            enqueue_processing(message.pk, critical=critical)
    except IntegrityError:
        # Stored before, by this path or another (the digest is unique).
        return Stored(InboundMessage.objects.get(digest=digest), new=False)
    return Stored(message, new=True)


# How much of a message the critical check reads for its headers: a header block longer
# than this is not a mail client's, and its mail goes the ordinary way.
HEADER_BYTES = 64 * 1024


def _header(raw: bytes, name: str) -> str | None:
    """One header of ``raw``'s header block (its first :data:`HEADER_BYTES`), as text."""
    head = raw[:HEADER_BYTES]
    for end in (b"\r\n\r\n", b"\n\n"):
        at = head.find(end)
        if at >= 0:
            head = head[: at + len(end)]
            break
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get(name)
    return None if value is None else str(value)


def _may_take_the_critical_lane(raw: bytes, client_ip: str | None) -> bool:
    """Whether this critical-subject mail may be processed on the critical lane, where
    pages are sent: a few an hour from one sending server (or, when the path does not
    know the server, one From: domain), CRITICAL_LANE_PER_SOURCE. Beyond that a flood of
    "CRITICAL" mail, each parsed and verified within its time limits, would keep the
    lanes from the pages; it goes the ordinary way (batched, still Critical, still
    paging once processed)."""
    from casedesk.core import ratelimit
    from casedesk.mail.policies import CRITICAL_LANE_PER_SOURCE

    if client_ip:
        key = f"ip:{client_ip}"
    else:
        try:
            sender = parseaddr(_header(raw, "from") or "")[1]
        except Exception:  # garbage: one shared key for everything unreadable
            sender = ""
        key = "from:" + sender.rpartition("@")[2].lower()
    return ratelimit.attempt(CRITICAL_LANE_PER_SOURCE, key).allowed


def subject_says_critical(raw: bytes) -> bool:
    """Whether the Subject in ``raw``'s header block says critical (``rules``' test),
    RFC 2047 words decoded (``parse.decode_words``); False for anything unreadable.
    Cheap (a few tens of microseconds): it runs before the 250."""
    from casedesk.mail import rules
    from casedesk.mail.parse import decode_words

    try:
        value = _header(raw, "subject")
        # Decoded as the full parse decodes it, so both agree on what the subject says.
        return value is not None and rules.is_critical_subject(decode_words(value))
    except Exception:  # garbage: the full parse decides, on the default queue
        return False


# What an MTA writes when it knows no address (Postfix's ${client_address} of mail
# submitted on the machine itself is empty; some write "unknown").
_NO_ADDRESS = ("", "unknown")


def client_address(value: str | None) -> str | None:
    """The sending server's IP address in its normal form, or None when not known.

    Accepts what MTAs write: ``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]``,
    ``IPv6:2001:db8::1`` (RFC 5321's literal), and an IPv4 address mapped into IPv6
    (``::ffff:192.0.2.1``, as a dual-stack socket reports it) becomes IPv4. Raises
    ValueError for anything else: the caller passed something that is not an address.
    """
    if value is None:
        return None
    text = value.strip()
    if text.lower() in _NO_ADDRESS:
        return None
    text = text.removeprefix("[").removesuffix("]")
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # no zone ("fe80::1%eth0")
    except ValueError:
        raise ValueError(f"{value[:100]!r} is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


# The longest domain name (RFC 1035); the model's column holds this much.
HELO_MAX = 255


def helo_name(value: str | None) -> str:
    """The HELO/EHLO name as given, kept for SPF and the desk: printable ASCII only
    (anything else is the sender's garbage, replaced by "?") and at most 255 characters
    (a longer one is no domain name; SPF then finds no record for it)."""
    text = (value or "").strip()
    cleaned = "".join(c if " " < c < "\x7f" else "?" for c in text)
    return cleaned[:HELO_MAX]
