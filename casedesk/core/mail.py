"""Outgoing mail from templates: one subject, a text body and an HTML body.

Each kind of message names its three templates; a missing one raises
TemplateDoesNotExist (STYLE.md: a missing template fails loudly, it never
silently sends nothing). Send errors reach the caller, which decides whether
to retry (tasks wrap them in RetryableError).
"""

from __future__ import annotations

import re
import secrets
import smtplib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils.crypto import constant_time_compare, salted_hmac

_THREAD_SALT = "casedesk.core.mail.thread"
_THREAD_ID = re.compile(r"<([A-Z]+-\d+)\.([0-9a-f]{12})\.([0-9a-f]{16})@[^<>\s]+>")


def thread_message_id(reference: str) -> str:
    """A Message-ID for a mail about case ``reference`` that only casedesk can make.

    ``<CD-1042.<random>.<signature>@<support domain>>``: a reply's In-Reply-To or
    References naming it threads into CD-1042 (casedesk.mail), and the signature
    (HMAC with SECRET_KEY) stops anyone from threading into a case by typing an id.
    """
    token = secrets.token_hex(6)
    return f"<{reference}.{token}.{_thread_signature(reference, token)}@{settings.MAIL_DOMAIN}>"


def reference_of_message_id(message_id: str) -> str | None:
    """The case reference a Message-ID made by :func:`thread_message_id` names, if genuine."""
    match = _THREAD_ID.fullmatch((message_id or "").strip())
    if match is None:
        return None
    reference, token, signature = match.groups()
    if not constant_time_compare(signature, _thread_signature(reference, token)):
        return None
    return reference


def _thread_signature(reference: str, token: str) -> str:
    return salted_hmac(_THREAD_SALT, f"{reference}.{token}", algorithm="sha256").hexdigest()[:16]


def send_templated(
    template: str,
    context: dict[str, Any],
    to: list[str],
    from_email: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    reply_to: list[str] | None = None,
) -> None:
    """Render ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``; send.

    The subject is plain text (not HTML-escaped), joined onto one line (a header
    cannot hold a newline).
    Rendering happens in the caller's active time zone.
    """
    # A subject is plain text: "Tom & Jerry" must not arrive as "Tom &amp; Jerry".
    subject_template = get_template(f"{template}_subject.txt").template  # type: ignore[attr-defined]
    subject = "".join(subject_template.render(Context(context, autoescape=False)).splitlines())
    headers = dict(headers or {})
    if not any(name.lower() == "message-id" for name in headers):
        # Django would name the host (often "localhost"): a Message-ID in our own mail
        # domain is what receivers' filters expect of the domain we send from.
        headers["Message-ID"] = make_msgid(domain=settings.MAIL_DOMAIN)
    message = EmailMultiAlternatives(
        subject.strip(),
        render_to_string(f"{template}.txt", context),
        from_email,
        to,
        headers=headers,
        reply_to=reply_to,
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def mail_each_admin(
    template: str,
    context: dict[str, Any],
    what: str,
    per_admin: Callable[[Any], dict[str, Any]] | None = None,
) -> int:
    """Mail ``template`` to every active admin (``recipient`` and ``base_url`` added to
    ``context``, and ``per_admin(admin)`` if given); a transport error is a
    ``RetryableError`` naming ``what`` ("of page K7QF"). Returns how many were mailed."""
    from casedesk.accounts.models import Role, User
    from casedesk.core.retry import RetryableError

    admins = list(User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk"))
    for admin in admins:
        extra = per_admin(admin) if per_admin is not None else {}
        try:
            send_templated(
                template,
                {**context, "recipient": admin, "base_url": settings.BASE_URL, **extra},
                [admin.email],
            )
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"could not mail the admins {what}: {exc}") from exc
    return len(admins)
