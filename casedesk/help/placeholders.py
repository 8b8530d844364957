"""The values help articles may quote as ``{{ name }}``, read from settings.

Articles quote the configured numbers instead of repeating them, so a page
never says "5 attempts" after an operator set CASEDESK_LOCKOUT_FAILURES=10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from casedesk.lib.durations import describe_rate, humanize_duration


@dataclass(frozen=True)
class Placeholder:
    name: str
    meaning: str
    value: str


def placeholders() -> list[Placeholder]:
    """Every placeholder with what it means (for the admin) and its current value."""
    return [
        Placeholder(
            "lockout_failures",
            "wrong passwords that lock an account",
            str(settings.LOCKOUT_FAILURES),
        ),
        Placeholder(
            "lockout_window",
            "the time in which those wrong passwords count",
            humanize_duration(settings.LOCKOUT_WINDOW),
        ),
        Placeholder(
            "lockout_duration",
            "how long a lock-out lasts",
            humanize_duration(settings.LOCKOUT_DURATION),
        ),
        Placeholder(
            "reset_link_lifetime",
            "how long a password reset link works",
            humanize_duration(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)),
        ),
        Placeholder(
            "reset_emails",
            "how many reset emails one address may receive",
            describe_rate(settings.RATE_RESET_PER_ADDRESS),
        ),
        Placeholder(
            "support_email",
            "the support address customers write to (CASEDESK_SUPPORT_EMAIL)",
            settings.SUPPORT_EMAILS[0],
        ),
        Placeholder(
            "emergency_phone",
            "the emergency phone line (CASEDESK_EMERGENCY_PHONE)",
            settings.EMERGENCY_PHONE,
        ),
        Placeholder(
            "invite_link_lifetime",
            "how long an invitation link works",
            humanize_duration(settings.INVITE_LINK_LIFETIME),
        ),
    ]


def article_values() -> dict[str, str]:
    """The placeholder values, by name, as the renderer takes them."""
    return {placeholder.name: placeholder.value for placeholder in placeholders()}
