"""Outgoing mail from templates: one subject, a text body and an HTML body.

Each kind of message names its three templates; a missing one raises
TemplateDoesNotExist (STYLE.md: a missing template fails loudly, it never
silently sends nothing). Send errors reach the caller, which decides whether
to retry (tasks wrap them in RetryableError).
"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.loader import get_template, render_to_string


def send_templated(
    template: str,
    context: dict[str, Any],
    to: list[str],
    from_email: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Render ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``; send.

    The subject is plain text (not HTML-escaped), joined onto one line (a header
    cannot hold a newline).
    Rendering happens in the caller's active time zone.
    """
    # A subject is plain text: "Tom & Jerry" must not arrive as "Tom &amp; Jerry".
    subject_template = get_template(f"{template}_subject.txt").template  # type: ignore[attr-defined]
    subject = "".join(subject_template.render(Context(context, autoescape=False)).splitlines())
    message = EmailMultiAlternatives(
        subject.strip(),
        render_to_string(f"{template}.txt", context),
        from_email,
        to,
        headers=headers,
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()
