"""The rate limits on mail: named policies, numbers in settings."""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 5 an hour (CASEDESK_RATE_MAIL_AUTO_REPLY), RFC 3834 section 2: a sender whose
# own robot answers ours, or who mails us in a loop, hears from ours a few times, not
# without end. Only new cases get an auto-reply at all.
AUTO_REPLY_PER_SENDER = RatePolicy(
    name="mail-auto-reply-per-sender",
    setting="RATE_MAIL_AUTO_REPLY",
    why="stops casedesk's auto-replies looping with another robot or flooding a sender",
)

# Default 10 a minute (CASEDESK_RATE_MAIL_INTO_CASE): more from one sender into one case
# is a mail loop (two robots answering each other), not a person; further messages are
# held on the desk's "needs attention" list, so nothing is lost.
INTO_CASE_PER_SENDER = RatePolicy(
    name="mail-into-case-per-sender",
    setting="RATE_MAIL_INTO_CASE",
    why="holds a mail loop's messages instead of adding hundreds to one case",
)

# Default 20 in 10 minutes (CASEDESK_RATE_MAIL_CRITICAL_LANE) per sending server (or
# From: domain when the path does not know the server): mail whose subject says critical
# is processed on the critical lane, beside the pages. A real incident brings a handful
# of such mails from one customer; more is a flood, and the rest is processed the
# ordinary way (batched on the default lane, still opened as Critical, still paging).
CRITICAL_LANE_PER_SOURCE = RatePolicy(
    name="mail-critical-lane-per-source",
    setting="RATE_MAIL_CRITICAL_LANE",
    why="keeps a flood of 'CRITICAL' mail from holding the lanes that send pages",
)
