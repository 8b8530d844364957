"""Fixtures of the mail tests: building messages and delivering them through the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest


def build(
    subject: str = "Printer on fire",
    body: str = "Hello, the printer is on fire.",
    *,
    sender: str = "Alice Example <alice@acme.example>",
    to: str = "support@example.com",
    headers: dict[str, str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    message_id: str | None = None,
) -> bytes:
    """A message as a mail client would send it, as bytes."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Sat, 28 Nov 2026 02:00:00 -0600"
    message["Message-ID"] = message_id or make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire


# ---- Hostile messages (issue 16) ------------------------------------------------------


def div_soup(count: int = 75_000, subject: str = "CRITICAL: site down") -> bytes:
    """An HTML-only message of ``<div>x`` ``count`` times (75,000: 450 KB of HTML):
    it kept the worker in nh3 for minutes."""
    message = EmailMessage()
    message["From"] = "Alice Example <alice@acme.example>"
    message["To"] = "support@example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="client.example")
    message.set_content("<div>x" * count, subtype="html", cte="quoted-printable")
    return message.as_bytes(policy=policy.SMTP)


def nested_multipart(depth: int, subject: str = "CRITICAL: nested") -> bytes:
    """Multiparts inside each other ``depth`` deep, a text part at the bottom."""
    head = (
        b"From: Alice Example <alice@acme.example>\r\nTo: support@example.com\r\n"
        b"Subject: " + subject.encode() + b"\r\nMessage-ID: <nested-%d@client.example>\r\n"
        b"MIME-Version: 1.0\r\n" % depth
    )
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nthe bottom\r\n" + closing


def rfc822_chain(depth: int, subject: str = "CRITICAL: forwarded") -> bytes:
    """A message/rfc822 inside a message/rfc822 ... ``depth`` deep."""
    out = b"From: bob@acme.example\r\nSubject: the bottom\r\n\r\nthe bottom\r\n"
    for level in range(depth):
        out = (
            b"From: alice@acme.example\r\nSubject: level %d\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" % level
        ) + out
    return (
        b"From: Alice Example <alice@acme.example>\r\nTo: support@example.com\r\n"
        b"Subject: " + subject.encode() + b"\r\nMessage-ID: <chain-%d@client.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" % depth
    ) + out


def send_one(host: str, port: int, raw: bytes, timeout: float = 20) -> tuple[int, bytes]:
    """One message from alice over a fresh SMTP session: the answer to its DATA."""
    import smtplib

    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo()
        client.mail("alice@acme.example")
        client.rcpt("support@example.com")
        return client.data(raw)


@pytest.fixture
def mail_setup(priorities: dict[str, Any], calendars: None, settings: Any, tmp_path: Any) -> None:
    """Priorities, calendars and a file folder for cases opened by mail."""
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def deliver(mail_setup: None) -> Callable[..., Any]:
    """Store raw bytes as the SMTP receiver would and process them now; returns the outcome."""
    from casedesk.mail.process import process
    from casedesk.mail.store import store

    def run(
        raw: bytes, *, envelope_from: str | None = "alice@acme.example", source: str = "smtp"
    ) -> Any:
        stored = store(
            raw, source=source, envelope_from=envelope_from, recipients=["support@example.com"]
        )
        return process(stored.message.pk)

    return run


@pytest.fixture
def receiver(mail_setup: None) -> Iterator[Any]:
    """The SMTP receiver (casedesk.mail.smtp.Receiver) on a free port on 127.0.0.1."""
    from casedesk.core.tests.embedded import free_port
    from casedesk.mail.smtp import Receiver

    running = Receiver("127.0.0.1", free_port())
    running.start()
    yield running
    running.stop()
