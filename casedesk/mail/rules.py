"""What a parsed message is: critical, automated, a bounce, a reply to a case. Pure Python.

Each rule is a small function over :class:`~casedesk.mail.parse.Parsed` with its
reasoning beside it, table-tested in ``tests/test_rules.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import islice

from casedesk.mail.parse import DeliveryStatus, Limits, Parsed, parse
from casedesk.mail.reports import ADDRESS, STATUS_CODE, clean_address, read_fields

# "critical" as a whole word: letters, digits, "_" and hyphens around it make it part
# of another word ("non-critical", "criticality", "uncritical", "critical_path"). The
# hyphens are ASCII's and Unicode's (U+2010, and U+2011, the non-breaking one, which
# NFKC folds into it) and the soft hyphen; dashes (en, em) separate words.
_JOINERS = r"\w\-\u2010\u2011\u00ad"
_CRITICAL = re.compile(rf"(?<![{_JOINERS}])critical(?![{_JOINERS}])", re.IGNORECASE)
# "[CD-1042]" or "CD-1042": the reference our mails put in their subject. The hyphen is
# required, so a product code such as "CD 2001" is not taken for a case.
_REFERENCE = re.compile(r"(?<![\w-])CD-(\d{4,12})(?!\w)", re.IGNORECASE)


def is_critical_subject(subject: str) -> bool:
    """Does the subject call the case critical?

    Compatibility forms are folded first (NFKC), so full-width or styled letters
    count as the word they show; the match ignores case.
    """
    return bool(_CRITICAL.search(unicodedata.normalize("NFKC", subject or "")))


def references_in_subject(subject: str) -> list[int]:
    """Case numbers (``Case.number``-style, the digits of CD-1042) in the subject, in order."""
    return [int(digits) for digits in _REFERENCE.findall(subject or "")]


# ---- Automated mail (RFC 3834) ------------------------------------------------------

_NO_REPLY_LOCALS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?)([+\-.].*)?$",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}


@dataclass(frozen=True)
class Automation:
    """Why a message must not get an auto-reply (and must not page), or '' for a person."""

    reason: str = ""
    auto_replied: bool = False  # an out-of-office or another desk's auto-reply
    junk: bool = False  # Precedence: junk; not worth a case

    def __bool__(self) -> bool:
        return bool(self.reason)


def automation(message: Parsed, envelope_from: str | None = None) -> Automation:
    """RFC 3834 section 2: mail that no automatic responder should answer.

    ``envelope_from`` is the SMTP ``MAIL FROM`` when we received it ourselves
    (``""`` for the null sender of a bounce); otherwise ``Return-Path`` stands in.
    """
    submitted = message.header("auto-submitted").split(";", 1)[0].strip().lower()
    if submitted and submitted != "no":
        return Automation(f"Auto-Submitted: {submitted}", auto_replied=submitted == "auto-replied")
    if message.report_type:
        return Automation(f"a {message.report_type} report")
    precedence = message.header("precedence").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return Automation(f"Precedence: {precedence}", junk=precedence == "junk")
    if message.header("list-id"):
        return Automation("mailing-list mail (List-Id)")
    suppress = message.header("x-auto-response-suppress").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return Automation(f"X-Auto-Response-Suppress: {suppress}")
    if message.header("x-autoreply") or message.header("x-autorespond"):
        return Automation("an auto-responder's reply (X-Autoreply)", auto_replied=True)
    return_path = envelope_from
    if return_path is None and "return-path" in message.headers:
        return_path = message.header("return-path").strip().strip("<>")
    if return_path is not None:
        if not return_path.strip():
            return Automation("empty return path (a bounce or a notification)")
        local = return_path.rsplit("@", 1)[0]
        if _NO_REPLY_LOCALS.match(local):
            return Automation(f"return path {return_path}")
    local = message.from_address.rsplit("@", 1)[0]
    if _NO_REPLY_LOCALS.match(local):
        return Automation(f"sent from {message.from_address}")
    return Automation()


def support_address(address: str, support_emails: list[str]) -> str | None:
    """The support address ``address`` names (plus-tag removed, any case), or None."""
    local, at, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if not at:
        return None
    plain = f"{local.split('+', 1)[0]}@{domain}"
    return plain if plain in support_emails else None


# ---- Bounces --------------------------------------------------------------------------
#
# Cues learned from maintained bounce parsers (flufl.bounce's detectors, Sisimai's lhost
# modules, Mail::DeliveryStatus::BounceParser), written as our own few rules. Bounce
# texts are hostile input: every pattern is linear (no nested quantifiers), and each is
# run once over the text.

# Who sends bounces, by the local part of From: or of the envelope sender.
_DAEMON_LOCALS = re.compile(
    r"^(mailer-?daemon|postmaster|mail-?daemon|mdaemon|mailadmin|mail-?delivery|"
    r"mail-?administrator|mail-?system)$",
    re.IGNORECASE,
)
# ... and by words in the From: header itself, for a From with no address in it
# ("MAILER-DAEMON", "Mail Delivery System <>").
_DAEMON_WORDS = re.compile(r"mailer-daemon|mail delivery (sub)?system", re.IGNORECASE)
# A mail service's own account by its name ("E500_SMTP_Mail_Service"): no person's.
_SERVICE_LOCAL = re.compile(r"mailer|daemon|smtp|mail[-_.]?(service|system|admin|delivery)", re.I)
# A bounce address (VERP, a list's): "list-bounces", "bounces+tag", "bounce-123".
_BOUNCE_ADDRESS = re.compile(r"(^|[-_.])bounces?($|[-+_.=])", re.IGNORECASE)
_MAILER_DAEMON = re.compile(r"^mailer-?daemon$", re.IGNORECASE)
# An enclosed report is read from this much of the enclosed message.
_ENCLOSED_MAX = 256 * 1024
# Headers only mail servers' notices carry: Exim's failed recipients, Exchange's NDR flag.
_NDR_HEADERS = ("x-failed-recipients", "x-ms-exchange-message-is-ndr")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non-?deliver|delivery (status notification|failure|has failed|"
    r"problem|notification|incomplete|delayed|report)|returned mail|failure notice|"
    r"delivery failed|mail delivery|delayed mail|could ?n[o']t be delivered|not delivered|"
    r"failed mail|mail failed|returning (message )?to sender|user unknown|"
    r"address not found|warning: could not send|mail system error|message not delivered|"
    r"(message|mail) rejected|nicht zustellbar|unzustellbar|non remis|no se puede entregar",
    re.IGNORECASE,
)
_BOUNCE_TEXT = re.compile(
    r"(could|can)(no|n[o']?)t be delivered|was(n't| not) delivered|(couldn't|could not|"
    r"cannot|unable to) deliver|undeliverable|delivery (to the following recipients?|has "
    r"failed|failed|problems?|status notification|is delayed|has been delayed)|permanent "
    r"(fatal )?error|fatal errors?|user unknown|unknown user|no such (user|mailbox|recipient)|"
    r"mailbox (unavailable|full|is full)|recipient address rejected|address not found|"
    r"not yet been delivered|will (continue to )?retry|retry timeout|returned to sender|"
    r"does not exist|(was|has been) rejected|quota exceeded|not accepted|user not found|"
    r"invalid (mailbox|recipient|address)|did not reach|did not receive|has been returned|"
    r"intended recipient|failed address",
    re.IGNORECASE,
)
# Where a notice's own words end and the returned message begins: qmail's "--- Below this
# line is a copy", Exim's "------ This is a copy of the message", Sendmail's "----- Original
# message follows", Gmail's "----- Original message -----", Exchange's "Original message
# headers:". Sendmail's opening "The original message was received at" is not one.
_RETURNED_COPY = re.compile(
    r"^[ \t>]*(?:-+[ \t]*)?(original message(?! was)|this is a copy of (the|your) message|"
    r"below this line is a copy|the original message follows|message headers? follows?|"
    r"returned message|undelivered message|unsent message below|original message headers|"
    r"returned mail follows|message text follows|the header and top|original message as "
    r"received|the first \d+ lines of your original|a copy of the original message)",
    re.IGNORECASE | re.MULTILINE,
)
# A delay warning: the sending server keeps trying. "Gave up" words make it a failure.
_DELAYED = re.compile(
    r"delay|will (continue to )?(re)?try|still (being )?(retried|trying)|not yet been "
    r"delivered|attempts will continue|warning: could not send|queued|temporar",
    re.IGNORECASE,
)
_GAVE_UP = re.compile(
    r"gave up|giving up|permanent|cannot send message for|retry time(out)? (exceeded|expired)|"
    r"expired|too long|failed permanently|not found|does not exist|unknown|not delivered "
    r"within|queue period|after \d+ attempt",
    re.IGNORECASE,
)
# A bare SMTP reply ("550 Requested action not taken", "said: 452-Mailbox full").
_SMTP_REPLY = re.compile(r"(?<![\w.:/-])([45][0-5]\d)[ -](?=[A-Za-z<#(\"'])")
# An address in these is not the one that failed: a sender, or a Message-ID.
_NOT_THE_RECIPIENT = re.compile(
    r"((?<!generated )\bfrom|\bsender|reply-to|return-path|message-id|in-reply-to|"
    r"references|\bid)[ \t]*:?[ \t]*<?$",
    re.IGNORECASE,
)
# Challenge-response systems dress their "confirm you are a person" request as a
# delivery report (Boxbe, whitelist services): an auto-reply, not a bounce.
_CHALLENGE = re.compile(
    r"requires confirmation|not pre-?approved|guest list|waitlisted|add yourself to|"
    r"verify (that )?you are (a )?human|challenge-response",
    re.IGNORECASE,
)
# Where a notice names the recipients that failed (the address follows): Exchange's
# "did not reach the following recipient(s)", Domino's "was not delivered to:".
_NAMES_RECIPIENTS = re.compile(
    r"did not reach|did not receive|following (recipient|address|user)|(delivered|deliver|"
    r"delivery) to\b|failed (recipient|address)|recipient address|intended recipient|"
    r"\baddressed\b",
    re.IGNORECASE,
)
# A bare user name on the line after such words (AOL names no domain): one token.
_BARE_LOCAL = re.compile(r"[:.]?[ \t]*\n[ \t]*([\w.+-]{1,64})[ \t]*(\n|$)")
_RETURNED_ID = re.compile(r"^[ \t]*message-id[ \t]*:[ \t]*(<[^<>\s]{1,250}>)", re.I | re.M)


def _from_daemon(message: Parsed) -> bool:
    """Is the From: a mailer daemon's? They send bounces and nothing else."""
    local = message.from_address.rsplit("@", 1)[0]
    return bool(_MAILER_DAEMON.match(local) or _DAEMON_WORDS.search(message.header("from")))


def _from_mailer(message: Parsed, envelope_from: str | None) -> bool:
    """Does the message come from a mail server rather than a person?

    A null envelope sender (``MAIL FROM:<>`` or ``Return-Path: <>``), a mailer-daemon
    or postmaster address, a From: naming one without an address ("MAILER-DAEMON",
    "Mail Delivery System <>", an unreadable "System Administrator"), a header only
    mail servers' notices carry, or mail addressed to a bounce address
    (``list-bounces@``, ``bounces+...@``: only bounces are sent there).
    Auto-Submitted does not decide it either way: bounces say ``auto-replied``
    too, and so does every out-of-office.
    """
    if envelope_from is None and "return-path" in message.headers:
        envelope_from = message.header("return-path").strip().strip("<>").strip()
    if envelope_from == "" or message.report_type == "delivery-status":
        return True
    for address in (message.from_address, envelope_from or ""):
        local = address.rsplit("@", 1)[0]
        if _DAEMON_LOCALS.match(local) or _SERVICE_LOCAL.search(local):
            return True
    written = message.header("from").lower()
    if _from_daemon(message) or "postmaster" in written:
        return True
    if not message.from_address and "administrator" in written:
        return True
    if any(name in message.headers for name in _NDR_HEADERS):
        return True
    return any(_BOUNCE_ADDRESS.search(address.rsplit("@", 1)[0]) for address in message.to)


def returned_copy(text: str) -> int:
    """Where the returned message starts in a notice's text (its length if nowhere)."""
    match = _RETURNED_COPY.search(text)
    return match.start() if match else len(text)


def delivery_failures(message: Parsed, envelope_from: str | None = None) -> list[DeliveryStatus]:
    """The recipients a delivery report says failed or are delayed ([] for no bounce).

    1. A report's own fields (``message/delivery-status``, an SES notice), when they
       name a failed or delayed recipient. A report of deliveries only is no bounce.
    2. Otherwise only mail from a mail server counts (:func:`_from_mailer`): a
       customer writing "mail delivery failed for all our users" is a customer.
       Its subject or its words must say it is a bounce, unless it comes from a
       mailer daemon (they send nothing else).
    3. Then the notice's text, up to the returned copy: report fields written there
       (a report whose MIME boundary is missing), else the failed address and the
       status code (or SMTP reply, or words) the server wrote; else a report enclosed
       as a message of its own (a forwarded bounce). When the subject says bounce and
       no address is found, the failure is recorded with no address: it is still a
       bounce, never a case.

    ``envelope_from`` is the SMTP ``MAIL FROM`` when we received it ourselves (``""``
    for the null sender); otherwise ``Return-Path`` stands in.
    """
    reported = [d for d in message.delivery if d.action in ("failed", "delayed")]
    if reported and _CHALLENGE.search(" ".join(d.diagnostic for d in reported)):
        return []
    if reported or message.delivery:
        return reported
    daemon = _from_daemon(message)
    # A mail store's quota rejection may come as a disposition notification (Dovecot);
    # read receipts come from people, so only a daemon's counts.
    if message.report_type not in ("", "delivery-status") and not (
        daemon and message.report_type == "disposition-notification"
    ):
        return []
    by_subject = bool(_BOUNCE_SUBJECT.search(message.subject))
    # Weaker cues count only with a bounce's subject: no From: at all (a person's mail
    # with a broken From: still goes to "needs attention", where someone reads it),
    # or Precedence: bulk outside a mailing list (newsletters, monitoring alerts).
    nameless = not message.from_address and not message.header("from").strip()
    bulk = message.header("precedence").strip().lower() in ("bulk", "junk")
    weak = nameless or (bulk and "list-id" not in message.headers)
    if not (daemon or _from_mailer(message, envelope_from) or (weak and by_subject)):
        return []
    text = message.text
    head = text[: returned_copy(text)]
    said = by_subject or message.report_type == "delivery-status"
    if not (said or daemon or _BOUNCE_TEXT.search(head)) or _CHALLENGE.search(head):
        return []
    written = read_fields(head)
    if written:
        return [d for d in written if d.action in ("failed", "delayed")]
    failure = _read_notice(message, head)
    if failure.address:
        return [failure]
    enclosed = _enclosed_report(message)
    if enclosed:
        return enclosed
    return [failure] if said else []


def _read_notice(message: Parsed, head: str) -> DeliveryStatus:
    """The failure a notice's words describe: address, status, failed or delayed."""
    code = next((m for m in STATUS_CODE.finditer(head) if m.group(1) in "45"), None)
    reply = _SMTP_REPLY.search(head) if code is None else None
    status = code.group(0) if code else f"{reply.group(1)[0]}.0.0" if reply else ""
    cue = code or reply
    line = ""
    if cue is not None:
        line_start = head.rfind("\n", 0, cue.start()) + 1
        line_end = head.find("\n", cue.end())
        line = head[line_start : line_end if line_end >= 0 else None]
    delayed = (
        not status.startswith("5")
        and bool(_DELAYED.search(message.subject) or _DELAYED.search(head))
        and not _GAVE_UP.search(message.subject)
        and not _GAVE_UP.search(head)
    )
    return DeliveryStatus(
        address=_failed_address(message, head, line),
        action="delayed" if delayed else "failed",
        status=status or ("4.0.0" if delayed else "5.0.0"),
        diagnostic=" ".join(line.split())[:500],
    )


def _enclosed_report(message: Parsed) -> list[DeliveryStatus]:
    """The failures of a delivery report enclosed whole (message/rfc822) in a notice."""
    for part in [p for p in message.parts if p.content_type == "message/rfc822"][:2]:
        inner = parse(part.data[:_ENCLOSED_MAX], Limits(sanitise=False))
        found = [d for d in inner.delivery if d.action in ("failed", "delayed")]
        if found:
            return found
    return []


def _failed_address(message: Parsed, head: str, line: str = "") -> str:
    """The recipient a notice's words say failed, or ''.

    Exim names it in ``X-Failed-Recipients``. Otherwise the first address after words
    that name the failed recipients, else the first in the notice, that is not the
    bounce's own sender or recipient (the bounce goes to whoever sent the mail, never
    to the address that failed), not a mailer daemon, and not written after "From:"
    or as a Message-ID. AOL writes only the user name: its own domain is added.
    """
    listed = ADDRESS.search(message.header("x-failed-recipients"))
    if listed:
        return listed.group(0).lower()
    skip = {message.from_address, *message.to, *message.cc}
    anchor = _NAMES_RECIPIENTS.search(head)
    # After words naming the failed recipients; else on the line with the server's
    # reply (the address it refused); else anywhere.
    places: list[tuple[str, int]] = [(head, anchor.end())] if anchor else []
    places += [(line, 0), (head, 0)]
    for text, start in places:
        for match in ADDRESS.finditer(text, start):
            address = _unwrapped(clean_address(match.group(0)))
            if address in skip or _DAEMON_LOCALS.match(address.rsplit("@", 1)[0]):
                continue
            line_start = text.rfind("\n", max(0, match.start() - 200), match.start()) + 1
            before = text[max(line_start, match.start() - 40) : match.start()]
            if _NOT_THE_RECIPIENT.search(before):
                continue
            return address
    if anchor is not None and "@" in message.from_address:
        end = head.find("\n", anchor.end())
        bare = _BARE_LOCAL.match(head, end) if end >= 0 else None
        if bare is not None:
            return f"{bare.group(1).lower()}@{message.from_address.rsplit('@', 1)[1]}"
    return ""


def _unwrapped(address: str) -> str:
    """An X.400-wrapped address ("dda:SMTP=user@example.com") without its wrapping."""
    local, _, domain = address.rpartition("@")
    prefix, equals, rest = local.partition("smtp=")
    return f"{rest}@{domain}" if equals and not prefix else address


def returned_message_ids(message: Parsed) -> list[str]:
    """Message-IDs of the mail a bounce returns: the report's returned headers, an
    enclosed message, or ``Message-ID:`` lines of the copy quoted in its text."""
    ids = list(message.returned_ids)
    for part in message.parts:
        if part.content_type in ("message/rfc822", "text/rfc822-headers"):
            head = part.data[:65536].decode("utf-8", "replace")
            ids += [m.group(1) for m in _RETURNED_ID.finditer(head.split("\n\n", 1)[0])][:1]
    # A notice's own words have no Message-ID lines: any in its text are the copy's
    # (after a divider, or with none, as when a report's MIME boundary is missing).
    ids += [m.group(1) for m in islice(_RETURNED_ID.finditer(message.text), 5)]
    return list(dict.fromkeys(ids))[:20]
