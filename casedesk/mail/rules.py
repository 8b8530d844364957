"""What a parsed message is: critical, automated, a bounce, a reply to a case. Pure Python.

Each rule is a small function over :class:`~casedesk.mail.parse.Parsed` with its
reasoning beside it, table-tested in ``tests/test_rules.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from casedesk.mail.parse import DeliveryStatus, Parsed

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
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery (status notification|failure|has failed)|returned mail|"
    r"failure notice|mail delivery failed|delivery failed)",
    re.IGNORECASE,
)
_STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# A match starts only where a run of local-part characters starts: without the
# look-behind, a bounce text of 40,000 letters took 4 s (each position rescanned the run).
_ADDRESS = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
)


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


def delivery_failures(message: Parsed, envelope_from: str | None = None) -> list[DeliveryStatus]:
    """The recipients a delivery report says failed or are delayed.

    RFC 3464 reports carry them in ``message/delivery-status``. Some servers (Gmail's
    old DSNs, small MTAs) send a plain text notice from the mailer daemon instead:
    then the status code and address are read from the text, when both are there.
    Only mail from a mailer daemon counts: the From's local part says so, or the
    envelope sender is null (``envelope_from == ""``, or a ``Return-Path: <>``). A
    customer writing "mail delivery failed for all our users" is a customer.
    """
    failed = [d for d in message.delivery if d.action in ("failed", "delayed", "")]
    if failed or message.report_type == "delivery-status":
        return failed
    sender_local = message.from_address.rsplit("@", 1)[0].lower()
    if envelope_from is None and "return-path" in message.headers:
        envelope_from = message.header("return-path").strip().strip("<>")
    from_daemon = sender_local in ("mailer-daemon", "postmaster") or envelope_from == ""
    if not (from_daemon and _BOUNCE_SUBJECT.search(message.subject or message.text[:200])):
        return []
    head = message.text.split("Original message", 1)[0]
    code = _STATUS_CODE.search(head)
    if code is None:
        # "DNS Error: Domain name not found" and friends: permanent, no code given.
        permanent = re.search(r"permanent|failed \d+ attempts|not found", head, re.IGNORECASE)
        status = "5.0.0" if permanent else "4.0.0"
    else:
        status = code.group(0)
    addresses = [a.lower() for a in _ADDRESS.findall(head) if a.lower() != message.from_address]
    if not addresses:
        return []
    action = "failed" if status.startswith("5") else "delayed"
    return [DeliveryStatus(address=addresses[0], action=action, status=status)]


def support_address(address: str, support_emails: list[str]) -> str | None:
    """The support address ``address`` names (plus-tag removed, any case), or None."""
    local, at, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if not at:
        return None
    plain = f"{local.split('+', 1)[0]}@{domain}"
    return plain if plain in support_emails else None
