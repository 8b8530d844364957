"""How a page reaches a person: one small interface, one class per transport.

``Notifier.send(message)`` hands the message to its transport and returns the
transport's id for it (Twilio's SID; "" for mail and the console). It raises
``core.retry.RetryableError`` for a failure worth another try (a timeout, a
refused connection, a 5xx or 429) and ``core.retry.PermanentError`` for one
another try cannot fix (an invalid number, a rejected credential, no phone
number on the person). The task that calls it owns the retry policy.

SMS and voice go through Twilio's REST API with the ``twilio`` package's own
client; its base URL is ``TWILIO_API_BASE`` (Twilio's by default), so tests and
``bench/paging.py`` drive the real client against ``oncall.twilio_standin``.
Without ``TWILIO_ACCOUNT_SID`` they are printed on the console when ``DEBUG`` is on
(``make run``) and fail as not configured otherwise (a system check warns).
"""

from __future__ import annotations

import logging
import smtplib
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from casedesk.core.mail import send_templated
from casedesk.core.retry import PermanentError, RetryableError
from casedesk.oncall.models import Channel

logger = logging.getLogger("casedesk.oncall")

TWILIO_DEFAULT_BASE = "https://api.twilio.com"
# A request to Twilio that takes longer than this is abandoned and retried.
TWILIO_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Message:
    """What a person is told: short text for SMS, a mail, and the TwiML address of a call."""

    channel: str
    to: str  # E.164 number or email address
    name: str
    text: str  # the SMS (and the gist of the mail), under 320 characters
    subject: str
    ack_url: str
    voice_url: str  # where Twilio fetches the call's TwiML (with the keypress menu)
    context: dict[str, Any]  # for the mail templates


class Notifier(Protocol):
    def send(self, message: Message) -> str: ...


class EmailNotifier:
    def send(self, message: Message) -> str:
        try:
            send_templated("oncall/email/page", message.context, [message.to])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PermanentError(f"mail refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"could not send the page by mail: {exc}") from exc
        return ""


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client, sending what it addresses to api.twilio.com to ``base``."""

    def __init__(self, base: str, timeout: float = TWILIO_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(TWILIO_DEFAULT_BASE):
            url = self.base + url[len(TWILIO_DEFAULT_BASE) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    return Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=BaseUrlHttpClient(settings.TWILIO_API_BASE),
    )


def _twilio_call(what: str, call: Any) -> str:
    """Run one Twilio API call; translate its failures into retryable or permanent."""
    try:
        resource = call()
    except TwilioRestException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise RetryableError(f"Twilio {what}: {exc.status} {exc.msg}") from exc
        raise PermanentError(f"Twilio {what}: {exc.status} {exc.code} {exc.msg}") from exc
    except requests.RequestException as exc:
        raise RetryableError(f"Twilio {what}: {exc}") from exc
    return str(resource.sid)


def _require_phone(message: Message) -> None:
    if not message.to:
        raise PermanentError(f"{message.name} has no phone number for {message.channel}")


class TwilioSmsNotifier:
    def send(self, message: Message) -> str:
        _require_phone(message)
        client = twilio_client()
        return _twilio_call(
            "SMS",
            lambda: client.messages.create(
                to=message.to, from_=settings.TWILIO_FROM_NUMBER, body=message.text
            ),
        )


class TwilioVoiceNotifier:
    def send(self, message: Message) -> str:
        _require_phone(message)
        client = twilio_client()
        return _twilio_call(
            "call",
            lambda: client.calls.create(
                to=message.to,
                from_=settings.TWILIO_FROM_NUMBER,
                url=message.voice_url,
                method="POST",
            ),
        )


class ConsoleNotifier:
    """SMS and calls printed on standard output, for `make run` without a Twilio account."""

    def send(self, message: Message) -> str:
        _require_phone(message)
        what = "SMS" if message.channel == Channel.SMS else "voice call"
        sys.stdout.write(
            f"\n[on-call {what} to {message.name} {message.to}] {message.text}\n"
            f"  acknowledge: {message.ack_url}\n"
        )
        sys.stdout.flush()
        return ""


def notifier_for(channel: str) -> Notifier:
    if channel == Channel.EMAIL:
        return EmailNotifier()
    if not settings.TWILIO_ACCOUNT_SID:
        if settings.DEBUG:
            return ConsoleNotifier()  # `make run` on a laptop
        # In production a page printed on stdout reaches nobody: fail it, visibly.
        raise PermanentError("Twilio is not configured (TWILIO_ACCOUNT_SID is empty)")
    if channel == Channel.SMS:
        return TwilioSmsNotifier()
    if channel == Channel.VOICE:
        return TwilioVoiceNotifier()
    raise PermanentError(f"no notifier for channel {channel!r}")
