"""The rate limits on log-in and password reset: named policies, numbers in settings.

Lock-out (accounts.lockout) protects one account from guessing; these protect
from one network trying many accounts, and mailboxes from being flooded.
"""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 3 per hour (CASEDESK_RATE_RESET_PER_ADDRESS): enough to ask again when
# the first mail is slow or in spam, too few to flood someone's inbox. Counted for
# every address asked for, known or not, so the limit itself reveals nothing.
RESET_PER_ADDRESS = RatePolicy(
    name="password-reset-per-address",
    setting="RATE_RESET_PER_ADDRESS",
    why="stops casedesk being used to flood one mailbox with reset mails",
)

# Default 20 per hour (CASEDESK_RATE_RESET_PER_IP): an office behind one address
# can still reset a handful of passwords; a script asking for thousands cannot.
RESET_PER_IP = RatePolicy(
    name="password-reset-per-ip",
    setting="RATE_RESET_PER_IP",
    why="stops one network mailing reset links to many addresses",
)

# Default 1 per 6 hours (CASEDESK_RATE_LOCK_MAIL_PER_ADDRESS): the owner hears of
# the first lock; someone re-locking the address all night sends no more.
LOCK_MAIL_PER_ADDRESS = RatePolicy(
    name="lock-mail-per-address",
    setting="RATE_LOCK_MAIL_PER_ADDRESS",
    why="stops repeated lock-outs flooding the account owner with mail",
)

# Default 50 failed log-ins per 15 minutes (CASEDESK_RATE_LOGIN_FAILURES_PER_IP):
# ten times an account's own lock-out limit, so a shared office is not blocked by
# a few forgetful people, while password spraying (one guess at many accounts,
# which per-account lock-out never sees) is stopped within minutes.
LOGIN_FAILURES_PER_IP = RatePolicy(
    name="login-failures-per-ip",
    setting="RATE_LOGIN_FAILURES_PER_IP",
    why="stops one network spraying passwords across many accounts",
)
