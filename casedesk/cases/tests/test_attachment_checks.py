"""Every attachment (portal, desk, email, voicemail, chat) passes one type check.

The file's extension must be allowed, its content must be what the extension says (an
image's signature, a PDF's, an archive's), markup that a browser would run is refused
wherever it hides in an XML-ish file, and a file sent as a web page is refused whatever
its name. ``HOSTILE`` and ``HARMLESS`` are reused by the chat's tests: one list, one check.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casedesk.cases import files, services
from casedesk.cases.models import Case

pytestmark = pytest.mark.django_db

PAD = b"<!-- " + b"x" * 2000 + b" -->\n"  # past any "first bytes" sniffing window
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"

# (name, content, declared Content-Type, what the refusal says)
HOSTILE: list[tuple[str, bytes, str, str]] = [
    (
        "config.xml",
        b'<?xml version="1.0"?>\n<config>'
        + PAD
        + b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/></config>',
        "application/xml",
        "web page or script",
    ),
    (
        "feed.xml",
        b'<?xml version="1.0"?>\n<feed>'
        + PAD
        + b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script></feed>',
        "text/xml",
        "web page or script",
    ),
    (
        # The XHTML namespace spelt with character references: found once parsed.
        "hidden.xml",
        b'<?xml version="1.0"?>\n<a xmlns="'
        + "".join(f"&#{ord(c)};" for c in "http://www.w3.org/1999/xhtml").encode()
        + b'"><img src="x" onerror="alert(1)"/></a>',
        "application/xml",
        "web page or script",
    ),
    (
        "formula.xml",
        b'<?xml version="1.0"?>\n<m:math xmlns:m="http://www.w3.org/1998/Math/MathML" '
        b'href="javascript:alert(1)"><m:mi>x</m:mi></m:math>',
        "application/xml",
        "web page or script",
    ),
    (
        "report.xml",
        b'<?xml version="1.0"?>\n' + PAD + b'<?xml-stylesheet type="text/xsl" href="#s"?><r/>',
        "application/xml",
        "web page or script",
    ),
    (
        "entities.xml",
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY s "&#60;script&#62;">]><r>&s;</r>',
        "application/xml",
        "entities",
    ),
    (
        "utf16.xml",
        '<?xml version="1.0" encoding="UTF-16"?><r>'.encode("utf-16")
        + ("<n>" + "x" * 600 + "</n><svg onload='alert(1)'/></r>").encode("utf-16-le"),
        "application/xml",
        "web page or script",
    ),
    ("svg.log", b"<svg onload=alert(1)>", "text/plain", "web page or script"),
    (
        "markup.txt",
        b"\n\n<?xml version='1.0'?><n>" + PAD + b"<svg onload=alert(1)></svg></n>",
        "text/plain",
        "web page or script",
    ),
    ("screen.png", b"<html><script>alert(1)</script></html>", "image/png", "web page or script"),
    ("screen.png", b"Just some text, no picture.", "image/png", "does not match"),
    (
        "shot.png",  # a polyglot: a PNG's signature, then a page for a sniffing browser
        PNG + b"<html><body><script>alert(1)</script></body></html>",
        "image/png",
        "web page or script",
    ),
    (
        "manual.pdf",
        b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>",
        "application/pdf",
        "web page or script",
    ),
    ("tool.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "text/plain", "program"),
    ("tool.log", b"\x7fELF\x02\x01\x01\x00\x00\x00", "text/plain", "program"),
    ("logs.zip", b"this is not an archive", "application/zip", "does not match"),
    ("notes.docx", b"<w:document>", "application/octet-stream", "does not match"),
    ("server.log", b"ERROR 502\n", "text/html", "sent as a web page"),
    ("data.json", b'{"a": 1}', "image/svg+xml", "sent as a web page"),
    ("empty.log", b"", "text/plain", "empty"),
    ("\x00\x01..", b"hello", "text/plain", "not accepted"),
    ("page.html", b"<p>hi</p>", "text/html", "not accepted"),
    ("image.svg", b"<svg/>", "image/svg+xml", "not accepted"),
]

HARMLESS: list[tuple[str, bytes, str]] = [
    ("screen.png", PNG + b"\x00" * 64, "image/png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, "image/jpeg"),
    ("saved-as.jpg", PNG, "image/jpeg"),  # a PNG named .jpg is still an image
    ("anim.gif", b"GIF89a\x01\x00\x01\x00", "image/gif"),
    # A GIF/JavaScript polyglot: served as an image with nosniff, it never runs as script.
    ("photo.jpg", b"GIF89a/*\x00*/=alert(1)//", "image/jpeg"),
    ("shot.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ("manual.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "application/pdf"),
    ("logs.zip", b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
    ("empty.zip", b"PK\x05\x06" + b"\x00" * 18, "application/zip"),
    ("notes.docx", b"PK\x03\x04\x14\x00\x06\x00", "application/octet-stream"),
    ("logs.tar.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
    ("voicemail.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
    ("raw.mp3", b"\xff\xfb\x90\x64" * 8, "audio/mpeg"),
    (
        "config.xml",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<config><a href="x">1</a></config>',
        "text/xml",
    ),
    ("utf16.xml", '<?xml version="1.0"?><config>é</config>'.encode("utf-16"), "text/xml"),
    ("broken.xml", b"<?xml version='1.0'?><log><line>cut off her", "text/xml"),
    (
        "capture.har",
        b'{"log": {"entries": [{"response": {"content": '
        b'{"text": "<!doctype html><html><script>x()</script>"}}}]}}',
        "application/json",
    ),
    (
        "forwarded.eml",
        b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<html><script>x</script>",
        "message/rfc822",
    ),
    ("server.log", b"GET / 200\nbody was <html><script>x()</script>\n", "text/x-log"),
    ("mz.csv", b"MZ,Mozambique\nZA,South Africa\n", "text/csv"),
    ("syslog.log", b"<134>1 2026-12-07T10:00:00Z host app - - boom\n", "text/plain"),
    ("export.csv", b"\xef\xbb\xbfname,amount\nZ\xc3\xbcrich,3\n", "text/csv"),
    ("notes.txt", "Grüße, UTF-16 text\n".encode("utf-16"), "text/plain"),
    ("anything.log", b"fine", ""),
]


def upload(name: str, content: bytes, declared: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=declared)


@pytest.mark.parametrize(
    ("name", "content", "declared", "why"), HOSTILE, ids=[f"{h[0]}-{h[3]}" for h in HOSTILE]
)
def test_a_hostile_or_mislabelled_file_is_refused_with_a_reason_and_opens_no_case(
    alice: Any, open_case: Any, name: str, content: bytes, declared: str, why: str
) -> None:
    with pytest.raises(services.CaseError) as caught:
        open_case(alice, "Low", attachments=[upload(name, content, declared)])
    assert why in caught.value.errors["attachments"][0]
    assert not Case.objects.exists()


@pytest.mark.parametrize(("name", "content", "declared"), HARMLESS, ids=[h[0] for h in HARMLESS])
def test_ordinary_files_are_accepted(
    alice: Any, open_case: Any, name: str, content: bytes, declared: str
) -> None:
    case = open_case(alice, "Low", attachments=[upload(name, content, declared)])
    assert case.attachments.get().file.read() == content


def test_markup_anywhere_in_a_large_xml_file_is_found(settings: Any) -> None:
    """The scan reads the whole file in pieces: a marker across two pieces is found too."""
    for cut in range(files.SCAN_CHUNK - 6, files.SCAN_CHUNK + 1):
        body = b"<?xml version='1.0'?><r>" + b"a" * (cut - 24) + b"<script>x</script></r>"
        with pytest.raises(files.AttachmentRejected, match="web page or script"):
            files.check([upload("big.xml", body, "text/xml")])


def test_a_huge_name_is_cut_to_150_characters_keeping_its_extension(
    alice: Any, open_case: Any
) -> None:
    case = open_case(alice, "Low", attachments=[upload("a" * 10_000 + ".log", b"x", "")])
    name = case.attachments.get().name
    assert len(name) == 150 and name.endswith("a.log")


@pytest.mark.parametrize(
    "name", ["../../../etc/cron.d/job.log", "..\\..\\boot.ini.txt", "/dev/null/../x.log"]
)
def test_a_path_in_a_name_is_dropped_and_the_file_stays_in_the_case_folder(
    alice: Any, open_case: Any, name: str, settings: Any
) -> None:
    case = open_case(alice, "Low", attachments=[upload(name, b"x", "")])
    stored = case.attachments.get()
    assert "/" not in stored.name and "\\" not in stored.name and ".." not in stored.name
    assert stored.file.path.startswith(str(settings.MEDIA_ROOT / "cases" / str(case.pk)))
