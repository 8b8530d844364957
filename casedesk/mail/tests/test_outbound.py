"""Our mail about a case names the case in its Message-ID, so answers thread back into it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail as outbox
from django.test import override_settings

from casedesk.cases.models import EventKind
from casedesk.cases.services import add_reply
from casedesk.core.mail import reference_of_message_id, thread_message_id
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agents_reply_mail_threads_the_customers_answer_back(
    deliver: Any, alice: Any, agent: Any, run_tasks: Any
) -> None:
    first = deliver(build("Help", message_id="<start@client.example>"))
    case = first.case
    add_reply(case, agent, "Try turning it off and on.")
    run_tasks()
    reply_mail = next(m for m in outbox.outbox if "Support replied" in m.subject)
    ours = reply_mail.extra_headers["Message-ID"]
    assert reference_of_message_id(ours) == case.reference
    assert reply_mail.extra_headers["In-Reply-To"] == "<start@client.example>"
    assert reply_mail.reply_to == ["support@example.com"]

    answer = build(
        "Re: Support replied", "That worked!\n\n> Try turning it off", headers={"In-Reply-To": ours}
    )
    outcome = deliver(answer)
    assert outcome.line == f"replied {case.reference}"
    assert case.events.filter(kind=EventKind.REPLY, author=alice, body="That worked!").exists()


def test_message_ids_are_signed_and_named_for_the_support_domain() -> None:
    mid = thread_message_id("CD-1042")
    assert mid.startswith("<CD-1042.") and mid.endswith("@example.com>")
    assert reference_of_message_id(mid) == "CD-1042"
    tampered = mid.replace("CD-1042", "CD-1043")
    assert reference_of_message_id(tampered) is None
    assert reference_of_message_id("<CD-1042.aaaaaaaaaaaa.bbbbbbbbbbbbbbbb@example.com>") is None
    assert reference_of_message_id("garbage") is None


def test_rotating_the_secret_key_stops_old_ids_from_threading() -> None:
    mid = thread_message_id("CD-1042")
    with override_settings(SECRET_KEY="another-secret-" + "x" * 40):
        assert reference_of_message_id(mid) is None
