"""The SMTP receiver: aiosmtpd in its own thread, storing each message before it says 250.

Answers (RFC 5321, enhanced codes RFC 3463):

- ``550 5.1.1`` at RCPT for any address that is not one of ``CASEDESK_SUPPORT_EMAIL``
  (plus-tags are ignored: ``support+acme@example.com`` is ``support@example.com``);
- ``552 5.3.4`` for a message over ``CASEDESK_MAIL_MAX_MB`` (aiosmtpd also refuses a
  too-large declared ``SIZE=`` at MAIL, and stops reading past the limit);
- ``452 4.5.3`` at RCPT past ``CASEDESK_SMTP_MAX_RECIPIENTS`` (100) recipients for one
  message: the sender sends the message again for the rest;
- ``250 2.0.0`` only after :func:`casedesk.mail.store.store` committed the raw bytes,
  with the peer's IP address and its HELO/EHLO name (what SPF checks, mail/senders.py);
- ``451 4.3.0`` when they could not be committed (database down, locked, full), or not
  within ``CASEDESK_SMTP_COMMIT_SECONDS`` (5): the sending server keeps the message and
  tries again, so nothing is lost; a commit that lands after the 451 makes that retry
  a no-op (the digest), so the message is stored once;
- ``421 4.3.2`` to every session open when the receiver stops (SIGTERM), after any
  message being committed got its answer; then the connection is closed.

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
from django.db import DatabaseError

from casedesk.core.deadline import awithin
from casedesk.mail import rules
from casedesk.mail.models import Source
from casedesk.mail.store import MessageTooLarge, Stored, client_address, store

logger = logging.getLogger("casedesk.mail.smtp")


def support_address(address: str) -> str | None:
    """The support address a recipient names (plus-tag removed), or None if not ours."""
    return rules.support_address(address, settings.SUPPORT_EMAILS)


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
        if len(envelope.rcpt_tos) >= settings.SMTP_MAX_RECIPIENTS:
            return (
                f"452 4.5.3 Too many recipients: at most {settings.SMTP_MAX_RECIPIENTS} per message"
            )
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        try:
            client_ip = client_address(peer if isinstance(peer, str) else None)
        except ValueError:  # a Unix socket or a test transport: no address SPF could check
            client_ip = None
        if isinstance(server, _Session):
            server.committing = True  # a stop waits for this message's answer
        try:
            # On a bounded connection of its own, in a thread: the event loop serves
            # the other sessions meanwhile, and a database that does not answer
            # costs CASEDESK_SMTP_COMMIT_SECONDS, then a 451.
            stored = await awithin(
                settings.SMTP_COMMIT_SECONDS,
                store,
                raw,
                source=Source.SMTP,
                envelope_from=mail_from,
                recipients=list(envelope.rcpt_tos),
                client_ip=client_ip,
                helo=session.host_name or "",
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
        logger.info(
            "SMTP: stored message %s from %s (peer %s, %d bytes%s)",
            stored.message.pk,
            mail_from or "<>",
            peer,
            len(raw),
            "" if stored.new else ", a copy of one already stored",
        )
        return f"250 2.0.0 OK stored as {stored.message.pk}"


SHUTDOWN_REPLY = "421 4.3.2 Service shutting down; please try again later"


class _Session(SMTP):
    """One SMTP connection, known to its receiver so a stop can answer it 421."""

    def __init__(self, receiver: Receiver, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.receiver = receiver
        self.committing = False  # between DATA's commit starting and its answer sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.receiver.sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.receiver.sessions.discard(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        try:
            await super().smtp_DATA(arg)
        finally:
            self.committing = False  # the answer was pushed (or the session broke)
        if self.receiver.stopping:
            await self.goodbye()

    async def goodbye(self) -> None:
        """421, then close: the sender keeps its message and tries again later."""
        if self.transport is None:
            return
        try:
            # A client that reads nothing must not hold up the stop.
            await asyncio.wait_for(self.push(SHUTDOWN_REPLY), timeout=1)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        if self.transport is not None:
            self.transport.close()


class _Controller(Controller):
    def __init__(self, receiver: Receiver, handler: Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.receiver = receiver

    def factory(self) -> SMTP:
        return _Session(self.receiver, self.handler, **self.SMTP_kwargs)


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
        self.sessions: set[_Session] = set()  # open connections (event loop only)
        self.stopping = False
        self.controller = _Controller(
            self, Handler(on_stored), hostname=self.host, port=self.port, **kwargs
        )

    def start(self) -> None:
        self.controller.start()
        logger.info("SMTP receiver listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop listening, answer open sessions 421 and close them, then stop.

        A message being committed gets its answer (250 or 451) first: the stop
        waits up to ``CASEDESK_SMTP_COMMIT_SECONDS`` (and a little) for it.
        """
        if self.controller._thread is None:  # not started, or stopped already
            return
        grace = settings.SMTP_COMMIT_SECONDS + 2
        if self.controller.loop.is_running():
            drained = asyncio.run_coroutine_threadsafe(self._drain(grace), self.controller.loop)
            try:
                drained.result(timeout=grace + 5)
            except Exception:
                logger.exception("SMTP: the sessions did not close in time")
        self.controller.stop()

    async def _drain(self, grace: float) -> None:
        self.stopping = True
        server = self.controller.server
        if server is not None:
            server.close()  # no new connections
        loop = asyncio.get_running_loop()
        until = loop.time() + grace
        idle = [session for session in self.sessions if not session.committing]
        await asyncio.gather(*(session.goodbye() for session in idle))
        # The sessions committing say goodbye themselves once answered.
        while self.sessions and loop.time() < until:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            logger.warning("SMTP: closing a session still committing at shutdown")
            if session.transport is not None:
                session.transport.close()
