"""The rate limits on the emergency line: named policies, numbers in settings."""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 6 an hour (CASEDESK_RATE_PHONE_ACCOUNT_TRIES): two calls' worth of mistyped
# account numbers; more from one calling number is someone guessing account numbers.
ACCOUNT_TRIES_PER_NUMBER = RatePolicy(
    name="phone-account-tries-per-number",
    setting="RATE_PHONE_ACCOUNT_TRIES",
    why="stops one calling number guessing account numbers call after call",
)

# Default 60 an hour (CASEDESK_RATE_PHONE_ACCOUNT_TRIES_LINE): the whole line's wrong
# account numbers; a guesser rotating caller IDs (spoofed, or withheld) meets this one.
ACCOUNT_TRIES_ON_THE_LINE = RatePolicy(
    name="phone-account-tries-line",
    setting="RATE_PHONE_ACCOUNT_TRIES_LINE",
    why="bounds account-number guessing on the whole line, whatever number calls",
)
