"""The SMTP receiver: aiosmtpd in its own thread, storing each message before it says 250.

Answers (RFC 5321, enhanced codes RFC 3463):

- ``550 5.1.1`` at RCPT for any address that is not one of ``CASEDESK_SUPPORT_EMAIL``
  (plus-tags are ignored: ``support+acme@example.com`` is ``support@example.com``);
- ``552 5.3.4`` for a message over ``CASEDESK_MAIL_MAX_MB`` (aiosmtpd also refuses a
  too-large declared ``SIZE=`` at MAIL, and stops reading past the limit);
- ``250 2.0.0`` only after :func:`casedesk.mail.store.store` committed the raw bytes;
- ``451 4.3.0`` when they could not be committed (database down, locked, full): the
  sending server keeps the message and tries again, so nothing is lost.

STARTTLS is offered when ``CASEDESK_SMTP_TLS_CERT`` and ``_KEY`` are set. The
receiver does no relaying and no authentication: it only accepts mail for us.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from casedesk.mail import rules
from casedesk.mail.models import Source
from casedesk.mail.store import MessageTooLarge, Stored, store

logger = logging.getLogger("casedesk.mail.smtp")


def support_address(address: str) -> str | None:
    """The support address a recipient names (plus-tag removed), or None if not ours."""
    return rules.support_address(address, settings.SUPPORT_EMAILS)


def _store_now(raw: bytes, mail_from: str | None, recipients: list[str]) -> Stored:
    """Run in a worker thread: the store, then give the connection back."""
    try:
        close_old_connections()
        return store(raw, source=Source.SMTP, envelope_from=mail_from, recipients=recipients)
    finally:
        # A broken connection (the database went away) must not be reused for the
        # next message; a healthy one is cheap to reopen.
        connections.close_all()


class Handler:
    """aiosmtpd's hooks. ``on_stored`` is called (in the event loop) after each commit."""

    def __init__(self, on_stored: Callable[[Stored], None] | None = None) -> None:
        self.on_stored = on_stored

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if support_address(address) is None:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(
                None, _store_now, raw, mail_from, list(envelope.rcpt_tos)
            )
        except MessageTooLarge as exc:
            return f"552 5.3.4 {exc}"
        except DatabaseError as exc:
            logger.error("SMTP: could not store a message from %s: %s", mail_from, exc)
            return "451 4.3.0 Could not store the message now; please try again later"
        except Exception:
            logger.exception("SMTP: unexpected error storing a message from %s", mail_from)
            return "451 4.3.0 Could not store the message now; please try again later"
        if self.on_stored is not None:
            self.on_stored(stored)
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        logger.info(
            "SMTP: stored message %s from %s (peer %s, %d bytes%s)",
            stored.message.pk,
            mail_from or "<>",
            peer,
            len(raw),
            "" if stored.new else ", a copy of one already stored",
        )
        return f"250 2.0.0 OK stored as {stored.message.pk}"


def tls_context() -> ssl.SSLContext | None:
    if not settings.SMTP_TLS_CERT:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY)
    return context


class Receiver:
    """The receiver, running in a background thread: ``start()``, ``stop()``."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        on_stored: Callable[[Stored], None] | None = None,
    ) -> None:
        self.host = host or settings.SMTP_HOST
        self.port = settings.SMTP_PORT if port is None else port
        kwargs: dict[str, Any] = {
            "data_size_limit": settings.MAIL_MAX_BYTES,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "ident": "casedesk ESMTP",
        }
        context = tls_context()
        if context is not None:
            kwargs["tls_context"] = context
        self.controller = Controller(
            Handler(on_stored), hostname=self.host, port=self.port, **kwargs
        )

    def start(self) -> None:
        self.controller.start()
        logger.info("SMTP receiver listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        self.controller.stop()
