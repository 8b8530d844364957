"""Demo canned replies for `make run`. Chat itself needs no demo data: an agent's console
(/desk/chat/) marks them available while it is open, which opens chat in support hours."""

from __future__ import annotations

from casedesk.chat.models import CannedReply

DEMO_CANNED_REPLIES = {
    "Greeting": "Hi, thanks for reaching out. I am looking at this now.",
    "Need details": "Could you tell me the project name and roughly when this started?",
    "Opening a case": "I am opening a case for this so you can follow it; you will get an email.",
}


def ensure_demo_chat() -> list[str]:
    if CannedReply.objects.exists():
        return []
    CannedReply.objects.bulk_create(
        CannedReply(title=title, body=body) for title, body in DEMO_CANNED_REPLIES.items()
    )
    return [f"{len(DEMO_CANNED_REPLIES)} canned chat replies"]
