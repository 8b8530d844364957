"""The values help articles quote, read from settings."""

from __future__ import annotations

from datetime import timedelta

from casedesk.help.placeholders import article_values
from casedesk.lib.env import Rate


def test_article_values_with_the_default_settings():
    assert article_values() == {
        "lockout_failures": "5",
        "lockout_window": "15 minutes",
        "lockout_duration": "30 minutes",
        "reset_link_lifetime": "1 hour",
        "reset_emails": "3 per hour",
        "invite_link_lifetime": "7 days",
        "support_email": "support@example.com",
        "emergency_phone": "+15555550100",
    }


def test_article_values_follow_the_settings(settings):
    settings.LOCKOUT_FAILURES = 10
    settings.LOCKOUT_WINDOW = timedelta(hours=1)
    settings.LOCKOUT_DURATION = timedelta(hours=2, minutes=30)
    settings.PASSWORD_RESET_TIMEOUT = 5400
    settings.RATE_RESET_PER_ADDRESS = Rate(5, timedelta(days=1))
    settings.INVITE_LINK_LIFETIME = timedelta(days=14)
    settings.SUPPORT_EMAILS = ["help@vendor.example", "other@vendor.example"]
    settings.EMERGENCY_PHONE = "+15555550111"
    assert article_values() == {
        "lockout_failures": "10",
        "lockout_window": "1 hour",
        "lockout_duration": "2 hours 30 minutes",
        "reset_link_lifetime": "90 minutes",
        "reset_emails": "5 per day",
        "invite_link_lifetime": "14 days",
        "support_email": "help@vendor.example",
        "emergency_phone": "+15555550111",
    }
