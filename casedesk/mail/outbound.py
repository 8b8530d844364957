"""Headers that thread casedesk's mail about a case (and replies to it) together."""

from __future__ import annotations

from casedesk.cases.models import Case
from casedesk.core.mail import thread_message_id
from casedesk.mail.models import InboundMessage

# References grows with a long conversation; mail clients only need the last few.
_REFERENCES_KEPT = 5


def thread_headers(case: Case) -> dict[str, str]:
    """Message-ID naming the case; In-Reply-To and References to the customer's mail.

    The Message-ID is signed (``core.mail.thread_message_id``): a reply quoting it
    threads into this case and no other. In-Reply-To points at the last message the
    customer sent about the case, so their mail client shows one conversation.
    """
    headers = {"Message-ID": thread_message_id(case.reference)}
    theirs = list(
        InboundMessage.objects.filter(case=case)
        .exclude(message_id="")
        .order_by("-received_at", "-pk")
        .values_list("message_id", flat=True)[:_REFERENCES_KEPT]
    )
    if theirs:
        headers["In-Reply-To"] = theirs[0]
        headers["References"] = " ".join(reversed(theirs))
    return headers
