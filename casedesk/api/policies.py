"""The API's rate limit: a named policy, its number in settings."""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 600 a minute (CASEDESK_RATE_API_REQUESTS), per token: a busy integration stays
# well under it; a script in a loop does not, and would otherwise take the desk's database
# from the agents.
REQUESTS_PER_TOKEN = RatePolicy(
    name="api-requests-per-token",
    setting="RATE_API_REQUESTS",
    why="stops one token's runaway script from taking the database from everyone else",
)
