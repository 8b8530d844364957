"""Every attachment of the product: its checks (size, count, type) and its download.

Case files (portal, desk, email, voicemail) and chat files pass :func:`check` before they
are stored and leave only through :func:`serve`. The type is decided by the server, never
by the upload:

1. The extension must be on ``settings.ATTACHMENT_TYPES``; the served type comes from it.
2. A file *sent* as a web page (a declared ``text/html``, SVG, XHTML, script) is refused
   whatever its name says.
3. The content must be what the extension says: an image starts with an image's signature,
   a PDF with ``%PDF-``, an archive or an Office file with its archive's; a text file is
   not a program in disguise.
4. Markup a browser would run is refused: at the start of any file (where browsers sniff,
   after a byte-order mark and blank space), in the first 1,445 bytes of a binary file (a
   polyglot), and anywhere in an XML-ish file (an ``.xml`` or a text file that starts with
   ``<``), which is also parsed so that namespaces spelt with character references are
   seen, and refused if it declares entities.

Logs, HAR captures and forwarded messages quote web pages in their text; they are accepted
(past their first bytes) and, like every file, served as a download with ``nosniff`` and a
``sandbox`` policy (belt and braces).
"""

from __future__ import annotations

import logging
import mimetypes
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import IO
from xml.parsers import expat

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat

logger = logging.getLogger("casedesk.cases")

# Signatures of content a browser may render as a page whatever the name says.
_HTML_SNIFF = (
    b"<!doctype html",
    b"<html",
    b"<script",
    b"<svg",
    b"<?xml-stylesheet",
    b"<iframe",
    b"<body",
    b"<head",
    b"<object",
    b"<embed",
)
# In an XML-ish file, anywhere: the namespaces under which a browser runs script or
# follows links (XHTML, SVG, XSLT, MathML), and the stylesheet instruction that turns any
# XML into a page.
_XML_ACTIVE = (
    *_HTML_SNIFF,
    b"w3.org/1999/xhtml",
    b"w3.org/2000/svg",
    b"w3.org/1999/xsl/transform",
    b"w3.org/1998/math/mathml",
)
_ACTIVE_NAMESPACES = (
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xsl/transform",
    "http://www.w3.org/1998/math/mathml",
)
# Declared (Content-Type) types that say "this is a page or a script".
_ACTIVE_DECLARED = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/xsl",
        "application/xslt+xml",
        "text/vbscript",
    }
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_EXTRA_TYPES = {"har": "application/json", "log": "text/plain", "eml": "message/rfc822"}
# How much of a file's start browsers read to guess its type (WHATWG MIME Sniffing).
SNIFF_WINDOW = 1445
# XML-ish files are scanned whole, in pieces of this size (overlapping by a marker's length).
SCAN_CHUNK = 1 << 20
_OVERLAP = max(len(marker) for marker in _XML_ACTIVE)

# What the content of a binary type starts with. Images accept any image's signature: a
# PNG saved as .jpg is still a picture, and is served as one.
_IMAGE = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP = (b"\x1f\x8b",)
_SIGNATURES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "png": ("a PNG image", _IMAGE),
    "jpg": ("a JPEG image", _IMAGE),
    "jpeg": ("a JPEG image", _IMAGE),
    "gif": ("a GIF image", _IMAGE),
    "webp": ("a WebP image", _IMAGE),  # and RIFF....WEBP, see _signature_matches
    "pdf": ("a PDF", (b"%PDF-",)),
    "zip": ("a .zip archive", _ZIP),
    "docx": ("a Word document", _ZIP),
    "xlsx": ("an Excel workbook", _ZIP),
    "pptx": ("a PowerPoint file", _ZIP),
    "gz": ("a gzip archive", _GZIP),
    "tgz": ("a gzip archive", _GZIP),
    "mp3": ("an MP3 recording", (b"ID3",)),  # and a bare MPEG frame, see below
}
# Text types: their content must not be a program or an archive in disguise.
_TEXT = frozenset({"txt", "log", "csv", "json", "xml", "har", "eml"})
# Executables (Windows, Linux, macOS) start so, and hold NULs in their headers.
_PROGRAMS = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")


class AttachmentRejected(ValueError):
    """A file we will not store; the message says what to do about it."""


def clean_name(name: str) -> str:
    """The file's base name, printable, at most 150 characters, never empty."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C"
    ).strip(" .")
    if len(base) > 150:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 149 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:150]
    return base or "attachment"


def extension(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".tar.gz"):
        return "gz"
    return lowered.rpartition(".")[2] if "." in lowered else ""


def content_type_for(name: str) -> str:
    ext = extension(name)
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, _ = mimetypes.guess_type(f"x.{ext}")
    return guessed or "application/octet-stream"


def check(files: Sequence[UploadedFile]) -> None:
    """Raise AttachmentRejected naming the first file that breaks a rule, and why."""
    if len(files) > settings.ATTACHMENT_MAX_FILES:
        raise AttachmentRejected(
            f"Attach at most {settings.ATTACHMENT_MAX_FILES} files at a time "
            f"({len(files)} were chosen)."
        )
    for upload in files:
        _check_one(upload)


def _check_one(upload: UploadedFile) -> None:
    name = clean_name(upload.name or "")
    size = upload.size or 0
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise AttachmentRejected(
            f"{name} is {filesizeformat(size)}; files may be at most "
            f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."
        )
    if size == 0:
        raise AttachmentRejected(f"{name} is empty.")
    ext = extension(name)
    if ext not in settings.ATTACHMENT_TYPES:
        allowed = ", ".join(sorted(settings.ATTACHMENT_TYPES))
        raise AttachmentRejected(f"{name}: this type of file is not accepted (allowed: {allowed}).")
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared in _ACTIVE_DECLARED:
        raise AttachmentRejected(
            f"{name} was sent as a web page or script ({declared}); "
            "send it as a .zip or paste the text."
        )
    upload.seek(0)
    head = upload.read(SNIFF_WINDOW)
    upload.seek(0)
    page = AttachmentRejected(
        f"{name} contains a web page or script; send it as a .zip or paste the text."
    )
    text = _as_text(head)
    if text.startswith(_HTML_SNIFF):
        raise page
    if ext in _SIGNATURES:
        kind, signatures = _SIGNATURES[ext]
        if not _signature_matches(ext, head, signatures):
            raise AttachmentRejected(
                f"{name} does not match its name: it is not {kind}. "
                "Rename it for what it is, or send it as a .zip."
            )
        if any(marker in text for marker in _HTML_SNIFF):
            raise page  # a polyglot: a file's signature, then a page for a sniffing browser
        return
    if ext in _TEXT and head.startswith(_PROGRAMS) and b"\x00" in head:
        raise AttachmentRejected(
            f"{name} looks like a program, not a .{ext} file; send it as a .zip."
        )
    if ext == "xml" or (ext in _TEXT and text.startswith(b"<")):
        _check_xml(upload, name, xml=ext == "xml", page=page)


def _as_text(head: bytes) -> bytes:
    """The start of a file as a browser's sniffer reads it: without a byte-order mark and
    leading blank space, lower case, NULs dropped (UTF-16 text shows its tags too)."""
    for bom in _BOMS:
        head = head.removeprefix(bom)
    return head.replace(b"\x00", b"").lstrip().lower()


def _signature_matches(ext: str, head: bytes, signatures: tuple[bytes, ...]) -> bool:
    if head.startswith(signatures):
        return True
    if ext == "webp" or signatures is _IMAGE:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if ext == "mp3":  # an MPEG audio frame without an ID3 tag: 11 bits of frame sync
        return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return False


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    stream.seek(0)
    try:
        while chunk := stream.read(SCAN_CHUNK):
            yield chunk
    finally:
        stream.seek(0)


def _check_xml(upload: UploadedFile, name: str, *, xml: bool, page: AttachmentRejected) -> None:
    """Refuse markup a browser would run anywhere in the file: a plain scan of the whole
    content (NULs dropped, so UTF-16 is read too), then, for a well-formed document, its
    parsed names (a namespace may be spelt with character references). A document that
    declares entities is refused: they can hide markup and multiply (a billion laughs)."""
    tail = b""
    for chunk in _chunks(upload):
        window = tail + chunk.replace(b"\x00", b"").lower()
        if any(marker in window for marker in _XML_ACTIVE):
            raise page
        tail = window[-_OVERLAP:]
    if not xml:
        return
    parser = expat.ParserCreate(namespace_separator=" ")
    found: list[str] = []

    def element(tag: str, attributes: object) -> None:
        namespace, _, local = tag.rpartition(" ")
        if namespace.lower().rstrip("/") in _ACTIVE_NAMESPACES or local.lower() in {
            "script",
            "html",
            "svg",
        }:
            found.append("page")

    def instruction(target: str, data: str) -> None:
        if target.lower() == "xml-stylesheet":
            found.append("page")

    def entity(*args: object) -> None:
        raise AttachmentRejected(
            f"{name} declares XML entities, which we do not accept; send it as a .zip."
        )

    parser.StartElementHandler = element
    parser.ProcessingInstructionHandler = instruction
    parser.EntityDeclHandler = entity
    try:
        for chunk in _chunks(upload):
            parser.Parse(chunk, False)
            if found:
                raise page
        parser.Parse(b"", True)
    except expat.ExpatError:
        # Not well-formed (a cut-off export): a browser shows an error, not a page, and the
        # scan above found no markup. It is kept as it is.
        pass
    if found:
        raise page


def serve(file: FieldFile, name: str, content_type: str | None = None) -> FileResponse:
    """The one download of an attachment, after the caller's access check: always a
    download (never shown inline), typed by our allow-list (``content_type_for`` unless
    the stored type is given), never sniffed, sandboxed with no sources (should a browser
    show it anyway, nothing in it runs or loads), and never cached by a shared cache."""
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        logger.error("attachment %s is missing from the files folder", file.name)
        raise Http404("the file is missing") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=name,
        content_type=content_type or content_type_for(name),
    )
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
