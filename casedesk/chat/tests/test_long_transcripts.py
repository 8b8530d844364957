"""A chat longer than a case body still becomes a case: the timeline gets the transcript cut
to fit, with a line saying so, and the whole transcript is attached as a text file."""

from __future__ import annotations

from typing import Any

import pytest

from casedesk.cases.models import Attachment, Case, EventKind
from casedesk.cases.services import BODY_MAX
from casedesk.chat import services

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")

LONG = "x" * 4000


def _talk_long(chat: Any, author: Any) -> None:
    for _ in range(26):  # 104,000 characters: more than a case body holds
        services.post(chat, author, LONG)


def _whole_transcript_is_attached(case: Case, chat: Any, before: str) -> None:
    attachment = Attachment.objects.get(case=case)
    assert attachment.name == f"chat-{chat.pk}-transcript.txt"
    assert attachment.public
    with attachment.file.open("rb") as stored:
        assert stored.read().decode() == before


def test_a_long_chat_becomes_a_case_with_the_transcript_cut_and_attached_whole(
    chat: Any, alice: Any, on_duty: Any
) -> None:
    _talk_long(chat, alice)
    before = services.transcript(chat)
    case = services.to_case(chat, on_duty)
    opened = case.events.get(kind=EventKind.OPENED)
    assert len(opened.body) <= BODY_MAX
    assert opened.body.endswith(
        f"the whole chat is in the attached chat-{chat.pk}-transcript.txt.]"
    )
    assert opened.body.startswith("Chat transcript")
    _whole_transcript_is_attached(case, chat, before)


def test_a_long_chat_goes_on_an_existing_case_cut_with_the_whole_transcript_attached(
    chat: Any, alice: Any, on_duty: Any, open_case: Any
) -> None:
    existing = open_case(alice, "High", subject="Exports are slow")
    _talk_long(chat, alice)
    before = services.transcript(chat)
    reply = services.attach_to_case(chat, on_duty, existing)
    assert len(reply.body) <= BODY_MAX and "The transcript is cut here" in reply.body
    _whole_transcript_is_attached(existing, chat, before)


def test_a_customer_tired_of_waiting_leaves_a_long_chat_as_a_case(on_duty: Any, alice: Any) -> None:
    waiting = services.start(alice)
    _talk_long(waiting, alice)
    before = services.transcript(waiting)
    case = services.leave_case_from_chat(waiting, alice)
    assert len(case.description) <= BODY_MAX and "The transcript is cut here" in case.description
    _whole_transcript_is_attached(case, waiting, before)


def test_a_short_chat_goes_on_the_case_whole_without_a_file(
    chat: Any, alice: Any, on_duty: Any
) -> None:
    services.post(chat, alice, "Exports fail")
    case = services.to_case(chat, on_duty)
    assert "cut here" not in case.description
    assert not Attachment.objects.filter(case=case).exists()
