"""Delivery reports as mail servers really write them: RFC 3464 fields read leniently,
and Amazon SES notices (JSON, often inside an SNS envelope). Pure Python.

:mod:`casedesk.mail.parse` calls these while it walks a message; :mod:`casedesk.mail.rules`
reads the human-readable text of a report whose fields did not parse. Every function
here takes hostile input: no regular expression with nested quantifiers, one pass over
the text, and a bad field is skipped, never raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeliveryStatus:
    """One recipient of a delivery report."""

    address: str  # lower-cased; "" when the report does not say which address failed
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # "5.1.1"
    diagnostic: str = ""
    # Where the mail to ``address`` was forwarded and failed (the report's
    # Final-Recipient when it differs from the Original-Recipient), or "".
    final: str = ""


# RFC 3464 section 2.3.3 names five actions. Servers also write "expired" (Courier,
# some Exchange versions: the retry time ran out), "error", "failure" and "delay";
# each is read as the standard word it means. Anything else is kept as written, in lower case.
_ACTIONS = {
    "failed": "failed",
    "failure": "failed",
    "expired": "failed",
    "bounced": "failed",
    "error": "failed",
    "undeliverable": "failed",
    "delayed": "delayed",
    "delay": "delayed",
    "delivered": "delivered",
    "relayed": "relayed",
    "expanded": "expanded",
}
STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# An address as reports write it: a run of local-part characters that starts where the
# run starts (the look-behind keeps a long run from being rescanned at every position).
ADDRESS = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# "Final-Recipient: rfc822; <a@example.com>", any case, any spacing, at a line's start.
_FIELD = re.compile(
    r"^[ \t]*(final-recipient|original-recipient|x-actual-recipient|action|status|"
    r"diagnostic-code)[ \t]*:[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_RECIPIENT_FIELDS = ("final-recipient", "x-actual-recipient", "original-recipient")
# A report names this many recipients at most (a hostile one could list millions).
MAX_RECIPIENTS = 100


def first_address(text: str) -> str:
    """The first address in ``text``, lower-cased, or ''."""
    match = ADDRESS.search(text)
    return clean_address(match.group(0)) if match else ""


def clean_address(found: str) -> str:
    """An address as found in a text, lower-cased, without the quotes or the full stop
    around it ("addressed to 'a@example.com'." gives a@example.com): quotes are
    valid in a local part, but a notice that writes them around the address means
    them as quotes."""
    return found.lower().strip("'\"`").rstrip(".")


def status_of(value: str) -> str:
    """The status code in a ``Status:`` value ("5.1.1 (user unknown)" -> "5.1.1"), or ''."""
    match = STATUS_CODE.search(value)
    return match.group(0) if match else ""


def _entry(fields: dict[str, str]) -> DeliveryStatus | None:
    # The address as we sent it (Original-Recipient, RFC 3464 section 2.3.1) is the one
    # our contacts have; the final one may be an alias's target or a mail store's name.
    original = first_address(fields.get("original-recipient", ""))
    final = first_address(fields.get("final-recipient", "")) or first_address(
        fields.get("x-actual-recipient", "")
    )
    address = original or final
    if not address:
        return None
    words = fields.get("action", "").lower().split()
    action = _ACTIONS.get(words[0].strip(".;,()"), words[0]) if words else ""
    diagnostic = " ".join(fields.get("diagnostic-code", "").split())[:500]
    status = status_of(fields.get("status", "")) or status_of(diagnostic)
    if not status and not action:  # a recipient named, nothing said of it
        return None
    if not status and action in ("failed", "delayed"):
        status = "5.0.0" if action == "failed" else "4.0.0"
    if not action and status:  # RFC 3464 requires an Action; the status class stands in
        action = {"5": "failed", "4": "delayed", "2": "delivered"}[status[0]]
    forwarded = final if final != address else ""
    return DeliveryStatus(address, action, status, diagnostic, forwarded)


def read_fields(text: str) -> list[DeliveryStatus]:
    """The per-recipient blocks of a delivery report, read leniently from its text.

    One pass over the field lines, whatever separates them (a MIME boundary that was
    never declared, nothing at all): a blank line after a recipient's fields, or a
    recipient field seen a second time (``Final-Recipient``, ``Original-Recipient``),
    starts the next recipient, whatever order each block's fields come in. Field
    names are matched in any case and spacing; a ``Status:`` may carry a comment. A
    block that names no address, or says nothing of it, is dropped.
    """
    out: list[DeliveryStatus] = []
    fields: dict[str, str] = {}

    def flush() -> None:
        entry = _entry(fields)
        if entry is not None and len(out) < MAX_RECIPIENTS:
            out.append(entry)
        fields.clear()

    previous = 0
    for match in _FIELD.finditer(text):
        name, value = match.group(1).lower(), match.group(2).strip()
        ended = any(f in fields for f in _RECIPIENT_FIELDS) and bool(
            _BLANK_LINE.search(text, previous, match.start())
        )
        if ended or (name in _RECIPIENT_FIELDS and name in fields):
            flush()
        fields.setdefault(name, value)
        previous = match.end()
    flush()
    return out


def read_blocks(blocks: Iterable[tuple[Iterable[tuple[str, Any]], str]]) -> list[DeliveryStatus]:
    """The same from blocks the email package already split: each block's header
    (name, value) pairs, and the text it could not read as headers (a line such as
    ``action :   failed`` ends a block's header for it)."""
    lines = []
    for fields, rest in blocks:
        for name, value in fields:
            lines.append(f"{name}: {' '.join(str(value).split())}")
        lines += [rest, ""]
    return read_fields("\n".join(lines))


# ---- Amazon SES ---------------------------------------------------------------------


@dataclass
class Notice:
    """What an Amazon SES notification says (a bounce, a delay, a complaint, a delivery)."""

    report_type: str  # "delivery-status" or "feedback-report"
    delivery: list[DeliveryStatus] = field(default_factory=list)
    returned_ids: list[str] = field(default_factory=list)  # the Message-ID of what we sent


# SES sends notices to an SNS topic; an email subscription gets the JSON as the text
# body, folded by mail servers at 998 characters with "!\n " (Sisimai's corpus has it
# inside strings), and followed by SNS's unsubscribe footer.
_FOLD = re.compile(r"!\r?\n ")
_MAX_JSON = 1024 * 1024


def ses_notice(text: str) -> Notice | None:
    """The SES notification that ``text`` is, or None.

    Only a body that *is* the JSON counts (it starts with ``{``): a customer who pastes
    a notification into a question writes words around it, and that stays their case.
    Event publishing's ``eventType`` is read like ``notificationType``.
    """
    body = text.lstrip()
    if not body.startswith("{") or '"' not in body[:200]:
        return None
    data = _json_object(_FOLD.sub("", body[:_MAX_JSON]))
    if data is not None and data.get("Type") == "Notification":  # the SNS envelope
        inner = data.get("Message")
        data = _json_object(inner) if isinstance(inner, str) else None
    if data is None:
        return None
    kind = data.get("notificationType") or data.get("eventType")
    mail = _dict(data.get("mail"))
    if kind == "Bounce":
        details = _dict(data.get("bounce"))
        permanent = details.get("bounceType") == "Permanent"
        entries = _recipients(details.get("bouncedRecipients"), "failed", permanent)
        notice = Notice("delivery-status", entries)
    elif kind == "DeliveryDelay":
        details = _dict(data.get("deliveryDelay"))
        notice = Notice("delivery-status", _recipients(details.get("delayedRecipients"), "delayed"))
    elif kind == "Complaint":
        notice = Notice("feedback-report")
    elif kind == "Delivery":
        recipients = _dict(data.get("delivery")).get("recipients")
        notice = Notice("delivery-status", _recipients(recipients, "delivered"))
    else:
        return None
    notice.returned_ids = _sent_ids(mail)
    return notice


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(text.lstrip())
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _recipients(value: object, action: str, permanent: bool = False) -> list[DeliveryStatus]:
    out: list[DeliveryStatus] = []
    for item in value if isinstance(value, list) else []:
        entry = {"emailAddress": item} if isinstance(item, str) else _dict(item)
        address = first_address(str(entry.get("emailAddress") or ""))
        if not address:
            continue
        diagnostic = " ".join(str(entry.get("diagnosticCode") or "").split())[:500]
        status = status_of(str(entry.get("status") or "")) or status_of(diagnostic)
        if not status and action != "delivered":
            status = "5.0.0" if permanent else "4.0.0"
        taken = str(entry.get("action") or "").lower()
        out.append(DeliveryStatus(address, _ACTIONS.get(taken, action), status, diagnostic))
        if len(out) >= MAX_RECIPIENTS:
            break
    return out


def _sent_ids(mail: dict[str, Any]) -> list[str]:
    """The Message-ID header of the mail the notice is about (not SES's own messageId)."""
    ids: list[str] = []
    common = _dict(mail.get("commonHeaders")).get("messageId")
    if isinstance(common, str):
        ids.append(common.strip())
    headers = mail.get("headers")
    for header in headers if isinstance(headers, list) else []:
        header = _dict(header)
        if str(header.get("name", "")).lower() == "message-id":
            ids.append(str(header.get("value", "")).strip())
    return [i for i in dict.fromkeys(ids) if i.startswith("<") and i.endswith(">") and len(i) < 400]
