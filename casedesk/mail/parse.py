"""Raw message bytes -> what the pipeline needs, tolerating everything mail servers deliver.

Pure Python (the standard library's ``email`` package with ``policy.default``, and
``nh3`` for HTML): no Django import, so the parser is tested and fuzzed on its own.

Broken input never raises out of :func:`parse`. Each part that cannot be read is
skipped and named in ``Parsed.defects``; a message with no sender address at all is
still returned (the pipeline puts it on the "needs attention" list). Only bytes
that are not a message at all (empty input) give ``Parsed.readable = False``.

Hostile input costs a bounded amount (issue 16):

1. MIME nested deeper than :data:`MIME_MAX_DEPTH` (multiparts or ``message/rfc822``
   inside each other, thousands deep) is not parsed further: the part at that depth
   is read as text, and ``Parsed.defects`` says so. The standard library's parser
   recurses once per level and fails with "maximum recursion depth exceeded" a few
   hundred levels down; so does writing an enclosed message back out.
2. An HTML body over ``Limits.html_bytes`` is cut to that size before it is sanitised,
   and one nested deeper than :data:`HTML_MAX_DEPTH` elements (counted by a linear scan)
   is not sanitised at all: its text is shown instead. ``nh3`` costs roughly the cube
   of the nesting depth (75,000 nested ``<div>`` took minutes). ``Parsed.notice`` says
   what was not shown ("too large to display, download the original").
3. The caller bounds what is left with a time limit: ``mail.process`` runs a large
   message's parse in a child process it can kill (``casedesk.lib.limited``).
"""

from __future__ import annotations

import contextlib
import email
import email.feedparser
import email.utils
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from typing import Any

import nh3

from casedesk.mail import reports
from casedesk.mail.reports import DeliveryStatus

__all__ = ["DeliveryStatus", "Limits", "Parsed", "Part", "parse"]

# A part we cannot decode is kept as bytes decoded with this, never dropped.
_FALLBACK_CHARSET = "latin-1"
# Deeper nesting than this (message/rfc822 inside message/rfc822 ...) is not walked:
# one corpus message nests without end.
_MAX_DEPTH = 8
# Deeper MIME nesting than this is not even parsed (see the module docstring): the part
# at this depth is kept as text. The corpora nest at most 7 deep (a torture test).
MIME_MAX_DEPTH = 50
# HTML nested deeper than this many elements is not sanitised (its text is shown).
# The corpora's deepest HTML nests 14 elements (a mail.ru and an Outlook 2003 reply,
# 10); a long chain of replies quoting each other adds a few per reply. nh3 on
# 256 KB at this depth took 0.3 s (nested <div>) to 0.8 s (distinct <b> elements).
HTML_MAX_DEPTH = 200
# HTML over the size limit is cut to it before sanitising (CASEDESK_MAIL_SANITISE_MAX_KB).
DEFAULT_HTML_BYTES = 256 * 1024
# Without a text/plain part, the text is made from at most this much of the HTML.
_TEXT_FROM_HTML_MAX = 1024 * 1024
_MAX_PARTS = 200
# The returned message (or its headers) in a delivery report; "message/rfc822-headers"
# is not registered but servers send it (MailSite).
_RETURNED = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
             "message/global", "message/global-headers")  # fmt: skip
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
# Threading looks at this many ids of In-Reply-To and References (the nearest ones).
THREAD_IDS_KEPT = 50


@dataclass(frozen=True)
class Limits:
    """What :func:`parse` may spend on a message's HTML."""

    html_bytes: int = DEFAULT_HTML_BYTES
    # False: the HTML is not sanitised at all (``Parsed.html`` stays empty), for a
    # caller that only needs the headers, text and parts (the desk's message page).
    sanitise: bool = True


@dataclass(frozen=True)
class Part:
    """An attachment or inline image."""

    name: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class Parsed:
    readable: bool = True
    from_address: str = ""  # lower-cased addr-spec, "" when missing or unreadable
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    message_id: str = ""  # "<...>" or ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    date: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, first value
    text: str = ""
    html: str = ""  # sanitised
    parts: list[Part] = field(default_factory=list)
    report_type: str = ""  # "delivery-status", "feedback-report", "disposition-notification"
    delivery: list[DeliveryStatus] = field(default_factory=list)
    # Message-IDs named by a delivery report's returned headers (what bounced).
    returned_ids: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    # What could not be shown, for the case and the desk: "The HTML is too large to
    # display (612 KB): ... download the original". "" when everything was read.
    notice: str = ""
    _thread_ids: list[str] | None = field(default=None, repr=False, compare=False)
    # The HTML body as it came (cut to the size limit): the text is made from it when
    # the message has no text part and its HTML was not (or could not be) sanitised.
    _html_markup: str | None = field(default=None, repr=False, compare=False)

    def add_notice(self, text: str) -> None:
        self.notice = f"{self.notice} {text}".strip()

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first (In-Reply-To, then References).

        At most :data:`THREAD_IDS_KEPT`: a References header with 70,000 ids (a hostile
        or broken client) costs no more than a normal one.
        """
        if self._thread_ids is None:
            ids = dict.fromkeys(
                [*self.in_reply_to[:5], *reversed(self.references[-THREAD_IDS_KEPT:])]
            )
            self._thread_ids = list(ids)[:THREAD_IDS_KEPT]
        return self._thread_ids


# ---- Headers ------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    """A header as text, RFC 2047 words decoded; '' when missing.

    Read from the raw header, not through ``msg.get``: policy.default builds a
    structured header object on every access, which cost 6 ms a message for
    headers this module only needs as text (addresses are parsed separately).
    """
    raw = _raw_header(msg, name)
    if raw is None:
        return ""
    return " ".join(decode_words(raw).split())


def decode_words(text: str) -> str:
    """RFC 2047 encoded words ("=?utf-8?q?...?=") decoded; the text as it is if they are broken."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in getattr(msg, "_headers", []):
        if key.lower() == name.lower():
            return str(value)
    return None


def _header_values(msg: Message) -> dict[str, list[str]]:
    """Every header's raw values by lower-cased name, in the order they came: read once
    for all the headers :func:`parse` needs."""
    values: dict[str, list[str]] = {}
    for key, value in getattr(msg, "_headers", []):
        values.setdefault(key.lower(), []).append(str(value))
    return values


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of a header's raw ``values``; unreadable
    entries are skipped."""
    out: list[tuple[str, str]] = []
    for display, address in email.utils.getaddresses(values):
        address = address.strip().strip("<>").lower()
        if "@" not in address or any(ch.isspace() for ch in address):
            continue
        display = decode_words(display)
        out.append((" ".join(display.split()), address))
    return out


def message_ids(value: str) -> list[str]:
    """Every ``<id>`` in a header value, in order."""
    return _MESSAGE_ID.findall(value or "")


# ---- Bodies -------------------------------------------------------------------------


def _decode(part: Message) -> str:
    with contextlib.suppress(Exception):  # an unknown or lying charset: decoded below
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode(_FALLBACK_CHARSET)


def _part_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


class _TextExtractor(HTMLParser):
    """HTML -> readable text: block elements become line breaks, scripts vanish."""

    _BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "table", "hr", "section", "article", "header", "footer"}  # fmt: skip
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


def html_to_text(markup: str) -> str:
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    lines = [" ".join(line.split()) for line in "".join(extractor.chunks).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sanitise_html(markup: str) -> str:
    """Only harmless markup survives (no scripts, styles, event handlers, remote frames).

    Uncapped: give it what :func:`_take_html` allows (a size and a nesting depth).
    """
    return nh3.clean(markup, link_rel="noopener noreferrer nofollow")


_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# A start tag of these closes an open element of the same name (HTML's implied end tags:
# "<li>one<li>two" is two siblings, not one inside the other).
_SIBLINGS = frozenset("p li dt dd tr td th option optgroup rp rt tbody thead tfoot".split())
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")


def html_depth(markup: str, stop: int = HTML_MAX_DEPTH) -> int:
    """How deep the elements of ``markup`` nest, counted in one pass over its tags.

    Roughly what a browser builds: void elements do not nest, an end tag closes the
    nearest open element of its name (and any left open inside it), a stray end tag
    is ignored, and a sibling-closing start tag (``<li>``, ``<p>``, ``<td>``) closes
    the open one of its name. Counting stops once past ``stop``, so the cost is
    linear in the length, whatever the input.
    """
    stack: list[str] = []
    open_count: dict[str, int] = {}
    deepest = 0
    for match in _TAG.finditer(markup):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID:
            continue
        if (closing or name in _SIBLINGS) and open_count.get(name):
            while stack:
                top = stack.pop()
                open_count[top] -= 1
                if top == name:
                    break
        if closing:
            continue
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > stop:
                break
    return deepest


def _cut_markup(markup: str, size: int) -> str:
    """The first ``size`` characters, without a tag cut in half at the end."""
    cut = markup[:size]
    opening = cut.rfind("<")
    if opening > cut.rfind(">"):
        cut = cut[:opening]
    return cut


def _take_html(markup: str, result: Parsed, limits: Limits) -> None:
    """The HTML body, sanitised within the limits (see the module docstring)."""
    size = len(markup)
    too_large = size > limits.html_bytes
    if too_large:
        markup = _cut_markup(markup, limits.html_bytes)
    result._html_markup = markup
    if not limits.sanitise:
        return
    if html_depth(markup) > HTML_MAX_DEPTH:
        result.defects.append(f"HTML nested deeper than {HTML_MAX_DEPTH} elements, not sanitised")
        result.add_notice(
            f"The HTML of this message is too complex to display (elements nested more than "
            f"{HTML_MAX_DEPTH} deep): its text is shown instead. Download the original to see it."
        )
        return
    if too_large:
        result.add_notice(
            f"The HTML of this message is too large to display ({size // 1024:,} KB): "
            f"only its first {limits.html_bytes // 1024:,} KB are shown. "
            "Download the original for the rest."
        )
    result.html = sanitise_html(markup)


class _BoundedParser(email.feedparser.BytesFeedParser):
    """The standard library's parser, reading parts nested deeper than
    :data:`MIME_MAX_DEPTH` as text instead of descending into them."""

    cut = False

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        current: Message = self._cur  # type: ignore[attr-defined]
        depth = len(self._msgstack)  # type: ignore[attr-defined]
        if depth > MIME_MAX_DEPTH and current.get_content_maintype() in ("multipart", "message"):
            self.cut = True
            del current["content-type"]
            current.set_raw("Content-Type", "text/plain; charset=utf-8")


class _ReadPolicy(policy.EmailPolicy):
    """``policy.default``, except that a header asked for again is not parsed again.

    Under ``policy.default`` every ``msg.get(name)`` (and so every ``get_content_type``,
    ``get_param``, ``get_filename``, ...) builds a new structured header object from the
    raw value: the parser, :func:`parse` and the email package's content manager asked
    for a part's Content-Type some ten times, and that was most of the cost of reading a
    message. The header object is a pure function of the name and the raw value, and
    immutable (a ``str`` whose params and defects are read-only), so the one built the
    first time is returned again. Each parsed message has its own policy and cache (they
    go with the message), shared by its parts.
    """

    headers_seen: dict[tuple[str, str], Any] | None = None

    def header_fetch_parse(self, name: str, value: str) -> Any:
        seen = self.headers_seen
        if seen is None or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        key = (name, value)
        header = seen.get(key)
        if header is None:
            header = seen[key] = super().header_fetch_parse(name, value)
        return header


class _HeaderClasses(HeaderRegistry):
    """policy.default's header classes, each made once.

    The standard library's registry makes a new class (``type(...)``) for every header
    it parses; the classes it makes for one kind of header are alike in everything but
    their identity, so the first one is kept. One per kind: a message's own header
    names (``X-Anything``) all share the unstructured one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = super().__getitem__(name)
        return made


# Each message gets a clone of this with a cache of its own (clones share the header
# classes, as policy.default's clones do).
_READ_POLICY = _ReadPolicy(header_factory=_HeaderClasses())


def message_from_bytes(raw: bytes) -> tuple[Message, bool]:
    """``raw`` parsed with ``policy.default``, and whether deep nesting was cut."""
    # (typeshed lists only the standard library's own options of clone())
    one_message = _READ_POLICY.clone(headers_seen={})  # type: ignore[call-arg]
    parser = _BoundedParser(policy=one_message)
    parser.feed(raw)
    return parser.close(), parser.cut


# ---- The whole message --------------------------------------------------------------


def parse(raw: bytes, limits: Limits | None = None) -> Parsed:
    limits = limits or Limits()
    if not raw or not raw.strip():
        return Parsed(readable=False, defects=["the message is empty"])
    try:
        msg, cut = message_from_bytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last resort
        return Parsed(readable=False, defects=[f"not a mail message: {exc}"])
    result = Parsed()
    if cut:
        result.defects.append(f"parts nested deeper than {MIME_MAX_DEPTH} levels were read as text")
        result.add_notice(
            f"Parts of this message are nested more than {MIME_MAX_DEPTH} levels deep and "
            "were not read. Download the original to see them."
        )
    values = _header_values(msg)
    for name, found in values.items():
        result.headers[name] = " ".join(decode_words(found[0]).split())
    senders = _addresses(values.get("from", [])) or _addresses(values.get("sender", []))
    if senders:
        result.from_name, result.from_address = senders[0]
    else:
        result.defects.append("no readable sender address (From)")
    result.to = [address for _, address in _addresses(values.get("to", []))]
    result.cc = [address for _, address in _addresses(values.get("cc", []))]
    # What _header() would give: the first value, decoded, its white space collapsed.
    result.subject = result.header("subject")
    ids = message_ids(result.header("message-id"))
    result.message_id = ids[0] if ids else ""
    result.in_reply_to = message_ids(result.header("in-reply-to"))
    result.references = message_ids(result.header("references"))
    result.date = result.header("date")
    for defect in getattr(msg, "defects", []):
        result.defects.append(type(defect).__name__)
    _walk(msg, result, 0, limits)
    if not result.text and (result.html or result._html_markup):
        result.text = html_to_text(result.html or result._html_markup or "")
    if not result.report_type:
        _take_notice(result)
    result._html_markup = None
    return _storable(result)


# A lone surrogate: what the email package makes of a header byte it could not decode.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """Text a database can store: lone surrogates (undecodable header bytes the email
    package kept as ``surrogateescape``) become the characters Latin-1 reads in them,
    and NUL characters (PostgreSQL refuses them in text) are dropped."""
    if not text.isascii() and _SURROGATE.search(text):
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        text = text.encode("utf-8", "replace").decode("utf-8")  # any other lone surrogate
    return text.replace("\x00", "")


def _storable(result: Parsed) -> Parsed:
    result.from_address = _clean(result.from_address)
    result.to = [_clean(a) for a in result.to]
    result.cc = [_clean(a) for a in result.cc]
    result.message_id = _clean(result.message_id)
    result.in_reply_to = [_clean(m) for m in result.in_reply_to]
    result.references = [_clean(m) for m in result.references]
    result.date = _clean(result.date)
    result.from_name = _clean(result.from_name)
    result.subject = _clean(result.subject)
    result.text = _clean(result.text)
    result.html = _clean(result.html)
    result.headers = {name: _clean(value) for name, value in result.headers.items()}
    result.parts = [
        Part(_clean(p.name), p.content_type, p.data, p.inline, _clean(p.content_id))
        for p in result.parts
    ]
    result.delivery = [
        DeliveryStatus(
            _clean(d.address),
            _clean(d.action),
            _clean(d.status),
            _clean(d.diagnostic),
            _clean(d.final),
        )
        for d in result.delivery
    ]
    result.defects = [_clean(d) for d in result.defects]
    result.notice = _clean(result.notice)
    return result


def _walk(msg: Message, result: Parsed, depth: int, limits: Limits) -> None:
    """Collect the first text and HTML bodies, attachments, and any delivery report.

    A message/* part (a forwarded mail, a report's returned headers) is taken whole,
    as an attachment or a report block: its own parts are not walked, so an endlessly
    nested message costs no more than a flat one.
    """
    content_type = msg.get_content_type()
    if content_type == "multipart/report" and not result.report_type:
        result.report_type = str(msg.get_param("report-type") or "").lower()
    if msg.is_multipart() and not content_type.startswith("message/"):
        if depth >= _MAX_DEPTH:
            result.defects.append(f"parts nested deeper than {_MAX_DEPTH} were not read")
            return
        payload = msg.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if len(result.parts) >= _MAX_PARTS:
                result.defects.append(f"more than {_MAX_PARTS} parts; the rest were not read")
                return
            if isinstance(part, Message):
                _walk(part, result, depth + 1, limits)
        return
    try:
        _take_part(msg, content_type, result, limits)
    except Exception as exc:
        result.defects.append(f"a {content_type} part could not be read: {exc}")


def _take_part(part: Message, content_type: str, result: Parsed, limits: Limits) -> None:
    disposition = (part.get_content_disposition() or "").lower()
    filename = ""
    try:
        filename = part.get_filename() or ""
    except Exception:
        filename = ""
    filename = decode_words(filename)

    if content_type in ("message/delivery-status", "message/global-delivery-status"):
        # Also outside a multipart/report (some servers send multipart/mixed).
        result.report_type = result.report_type or "delivery-status"
        result.delivery.extend(_delivery_status(part))
        return
    if content_type in _RETURNED and result.report_type:
        # message/* parts the email package parsed already; the text/* one is bytes.
        returned = _inner_message(part) or message_from_bytes(_part_bytes(part))[0]
        if returned is not None:
            result.returned_ids += message_ids(_header(returned, "message-id"))
        return

    is_body_text = content_type in ("text/plain", "text/html") and disposition != "attachment"
    if is_body_text and not filename:
        text = _decode(part)
        if content_type == "text/plain" and not result.text:
            result.text = text.replace("\r\n", "\n").strip()
            return
        if content_type == "text/html" and result._html_markup is None:
            _take_html(text, result, limits)
            return
    if content_type.startswith("multipart/"):
        # A multipart whose boundary is missing or never appears: the email package
        # keeps its body as one string. That text is the message (a bounce's report).
        if isinstance(part.get_payload(), str) and not result.text:
            result.text = _part_bytes(part).decode("utf-8", "replace").replace("\r\n", "\n")
            result.text = result.text.strip()
        return
    data = _message_bytes(part) if content_type.startswith("message/") else _part_bytes(part)
    if not data and not filename:
        return
    if not filename:
        extension = {
            "text/plain": ".txt",
            "text/html": ".html",
            "message/rfc822": ".eml",
            "image/png": ".png",
            "image/jpeg": ".jpg",
            "image/gif": ".gif",
            "application/pdf": ".pdf",
        }.get(content_type, ".bin")
        filename = f"part-{len(result.parts) + 1}{extension}"
    content_id = "".join(message_ids(str(part.get("content-id", "") or "")))
    result.parts.append(
        Part(
            name=filename,
            content_type=content_type,
            data=data,
            inline=disposition == "inline" or bool(content_id),
            content_id=content_id,
        )
    )


def _message_bytes(part: Message) -> bytes:
    """An enclosed message as bytes (to store as a .eml attachment)."""
    inner = _inner_message(part)
    if inner is None:
        return _part_bytes(part)
    # Written with the policy it was read with (policy.default, and the headers already
    # parsed while reading it: the generator asks for every part's Content-Type again).
    read_with = inner.policy if isinstance(inner.policy, _ReadPolicy) else policy.default
    try:
        return inner.as_bytes(policy=read_with.clone(linesep="\r\n"))
    except Exception:
        try:
            return inner.as_string(policy=policy.compat32).encode("utf-8", "replace")
        except Exception:
            return b""


def _inner_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, EmailMessage):
        return payload
    return None


def _delivery_status(part: Message) -> list[DeliveryStatus]:
    """The per-recipient blocks of a message/delivery-status part (RFC 3464), leniently."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
        return reports.read_blocks((block.items(), _block_text(block)) for block in blocks)
    # Some servers send it as text the email package does not split: read its lines.
    return reports.read_fields(_part_bytes(part).decode("utf-8", "replace"))


def _block_text(block: Message) -> str:
    text = block.get_payload()
    return text if isinstance(text, str) else ""


def _take_notice(result: Parsed) -> None:
    """A provider's notice in the text body (Amazon SES's JSON) read as the report it is."""
    notice = reports.ses_notice(result.text)
    if notice is not None:
        result.report_type = notice.report_type
        result.delivery.extend(notice.delivery)
        result.returned_ids += notice.returned_ids
