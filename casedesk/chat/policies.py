"""The rate limits on chat: named policies, numbers in settings."""

from __future__ import annotations

from casedesk.core.ratelimit import RatePolicy

# Default 30 a minute (CASEDESK_RATE_CHAT_MESSAGES): faster than anyone types; more is a
# script or a stuck key flooding an agent's screen. Counted per person, agents too.
MESSAGES_PER_USER = RatePolicy(
    name="chat-messages-per-user",
    setting="RATE_CHAT_MESSAGES",
    why="stops one person flooding a chat (and the agents' screens) with messages",
)

# Default 10 an hour (CASEDESK_RATE_CHAT_STARTS): a customer reconnects to their open
# chat without starting a new one; ten new chats an hour is someone filling the queue.
STARTS_PER_USER = RatePolicy(
    name="chat-starts-per-user",
    setting="RATE_CHAT_STARTS",
    why="stops one customer filling the agents' chat queue",
)

# Default 20 an hour (CASEDESK_RATE_CHAT_FILES): screenshots and logs, not a file share.
FILES_PER_USER = RatePolicy(
    name="chat-files-per-user",
    setting="RATE_CHAT_FILES",
    why="bounds the disk one person can fill through chat attachments",
)

# Default 10 an hour (CASEDESK_RATE_CHAT_LEAVES): the offline form (POST /chat/leave) opens
# a case each time; a customer with a real problem leaves one or two, a script leaves none.
LEAVES_PER_USER = RatePolicy(
    name="chat-leaves-per-user",
    setting="RATE_CHAT_LEAVES",
    why="stops one customer opening cases in bulk through the offline chat form",
)
