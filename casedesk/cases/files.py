"""Attachment checks: size, count and type, decided by the server, never by the upload.

The browser's Content-Type is ignored: the type comes from the extension,
which must be on ``settings.ATTACHMENT_TYPES``, and the bytes must not look
like HTML (a ``.txt`` full of ``<script>`` served inline would run in our
origin; we serve every file as a download with ``nosniff`` too, belt and braces).
"""

from __future__ import annotations

import mimetypes
import unicodedata
from collections.abc import Sequence
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

# Signatures of content a browser may render as a page whatever the name says.
_HTML_SNIFF = (b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml-stylesheet")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_EXTRA_TYPES = {"har": "application/json", "log": "text/plain", "eml": "message/rfc822"}


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
    allowed = ", ".join(sorted(settings.ATTACHMENT_TYPES))
    for upload in files:
        name = clean_name(upload.name or "")
        size = upload.size or 0
        if size > settings.ATTACHMENT_MAX_BYTES:
            raise AttachmentRejected(
                f"{name} is {filesizeformat(size)}; files may be at most "
                f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."
            )
        if size == 0:
            raise AttachmentRejected(f"{name} is empty.")
        if extension(name) not in settings.ATTACHMENT_TYPES:
            raise AttachmentRejected(
                f"{name}: this type of file is not accepted (allowed: {allowed})."
            )
        upload.seek(0)
        head = upload.read(512)
        for bom in _BOMS:
            head = head.removeprefix(bom)
        head = head.replace(b"\x00", b"").lstrip().lower()  # UTF-16 text shows its tags too
        upload.seek(0)
        if head.startswith(_HTML_SNIFF):
            raise AttachmentRejected(
                f"{name} contains a web page or script; send it as a .zip or paste the text."
            )
