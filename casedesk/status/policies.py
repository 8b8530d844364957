"""Rate limits on subscribing (each request mails a confirmation link)."""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 3 per hour (CASEDESK_RATE_STATUS_SUBSCRIBE_PER_ADDRESS): a lost first
# confirmation can be asked for again; nobody can flood an inbox with them.
SUBSCRIBE_PER_ADDRESS = RatePolicy(
    name="status-subscribe-per-address",
    setting="RATE_STATUS_SUBSCRIBE_PER_ADDRESS",
    why="stops the subscribe form being used to flood one mailbox",
)

# Default 20 per hour (CASEDESK_RATE_STATUS_SUBSCRIBE_PER_IP): an office can
# subscribe its people; a script cannot mail thousands of addresses.
SUBSCRIBE_PER_IP = RatePolicy(
    name="status-subscribe-per-ip",
    setting="RATE_STATUS_SUBSCRIBE_PER_IP",
    why="stops one network mailing confirmation links to many addresses",
)
