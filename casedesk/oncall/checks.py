"""System checks: paging that cannot reach a phone is said at start-up, not at 2 a.m."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register()
def twilio_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or settings.TWILIO_ACCOUNT_SID:
        return []
    return [
        Warning(
            "Twilio is not configured: on-call SMS and voice pages will fail "
            "(only email pages go out).",
            hint="Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER.",
            id="oncall.W001",
        )
    ]
