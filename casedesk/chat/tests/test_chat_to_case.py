"""A chat becomes a case, or goes on an existing one: the transcript is on the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from casedesk.cases.models import Case, Channel, EventKind
from casedesk.chat import services
from casedesk.chat.models import ChatStatus
from casedesk.chat.tests.conftest import SATURDAY_10AM, WEDNESDAY_10AM, logged_in

pytestmark = pytest.mark.usefixtures("chat_db")


@pytest.fixture
def talked(on_duty: Any, alice: Any) -> Any:
    chat = services.start(alice)
    services.accept(chat, on_duty)
    services.post(chat, alice, "Exports fail with <script>alert(1)</script>")
    services.post(chat, on_duty, "Which project?")
    return chat


def test_the_agent_turns_the_chat_into_a_case_with_the_transcript_on_its_timeline(
    talked: Any, on_duty: Any, alice: Any
) -> None:
    answer = logged_in(on_duty).post(f"/desk/chat/{talked.pk}/case", {"subject": "Exports fail"})
    assert answer.status_code == 200
    case = Case.objects.get(subject="Exports fail")
    assert answer.json()["reference"] == case.reference
    assert case.channel == Channel.CHAT and case.requester == alice
    opened = case.events.get(kind=EventKind.OPENED)
    assert opened.author == on_duty and opened.public
    assert "Alice Example: Exports fail with <script>alert(1)</script>" in opened.body
    assert "Sam Agent: Which project?" in opened.body
    talked.refresh_from_db()
    assert talked.case == case and talked.status == ChatStatus.ENDED
    # The desk shows the transcript escaped.
    page = logged_in(on_duty).get(f"/desk/cases/{case.reference}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    again = logged_in(on_duty).post(f"/desk/chat/{talked.pk}/case")
    assert again.status_code == 409


def test_the_agent_adds_the_chat_to_an_existing_case_of_the_same_organization(
    talked: Any, on_duty: Any, alice: Any, open_case: Any
) -> None:
    existing = open_case(alice, "High", subject="Exports are slow")
    answer = logged_in(on_duty).post(
        f"/desk/chat/{talked.pk}/case", {"reference": existing.reference}
    )
    assert answer.json()["reference"] == existing.reference
    reply = existing.events.get(kind=EventKind.REPLY)
    assert reply.public and "Which project?" in reply.body
    talked.refresh_from_db()
    assert talked.case == existing


def test_a_chat_cannot_go_on_another_organizations_case_or_a_missing_one(
    talked: Any, on_duty: Any, bob: Any, open_case: Any
) -> None:
    theirs = open_case(bob, "Low", subject="Globex question")
    client = logged_in(on_duty)
    refused = client.post(f"/desk/chat/{talked.pk}/case", {"reference": theirs.reference})
    assert refused.status_code == 409 and "another organization" in refused.json()["error"]
    for garbage in ["CD-999999", "nonsense", "CD-", "'; DROP TABLE", "\u202e"]:
        answer = client.post(f"/desk/chat/{talked.pk}/case", {"reference": garbage})
        assert answer.status_code == 409, garbage
    assert not theirs.events.filter(kind=EventKind.REPLY).exists()


def test_the_offline_form_leaves_a_message_as_a_chat_case(alice: Any) -> None:
    with time_machine.travel(SATURDAY_10AM, tick=False):
        answer = logged_in(alice).post(
            "/chat/leave", {"subject": "Invoice question", "body": "Which VAT rate applies?"}
        )
    assert answer.status_code == 200
    case = Case.objects.get(subject="Invoice question")
    assert case.channel == Channel.CHAT and case.opened_after_hours
    assert answer.json()["url"] == f"/portal/cases/{case.reference}/"


@pytest.mark.parametrize(
    "form",
    [{}, {"subject": ""}, {"subject": "   "}, {"subject": "x" * 500}, {"body": "no subject"}],
)
def test_the_offline_form_refuses_garbage(alice: Any, form: dict[str, str]) -> None:
    answer = logged_in(alice).post("/chat/leave", form)
    assert answer.status_code == 400 and answer.json()["error"]
    assert not Case.objects.exists()


def test_a_chat_waiting_past_the_limit_offers_to_leave_a_case_and_does_so(
    alice: Any, agent: Any, settings: Any
) -> None:
    settings.CHAT_WAIT_LIMIT = timedelta(minutes=3)
    settings.CHAT_PRESENCE_TIMEOUT = timedelta(hours=1)
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        chat = services.start(alice)
        services.post(chat, alice, "Can I move my licence to a new server?\nDetails follow.")
        assert services.describe(chat)["offers_case"] is False
    with time_machine.travel(WEDNESDAY_10AM + timedelta(minutes=3), tick=False):
        assert services.describe(chat)["offers_case"] is True
        answer = logged_in(alice).post(f"/chat/{chat.pk}/leave-case")
    case = Case.objects.get()
    assert answer.json()["reference"] == case.reference
    assert case.subject == "Can I move my licence to a new server?"
    assert "Details follow." in case.description
    chat.refresh_from_db()
    assert chat.status == ChatStatus.LEFT_MESSAGE and chat.case == case
    # Once an agent has the chat, there is nothing to leave.
    assert logged_in(alice).post(f"/chat/{chat.pk}/leave-case").status_code == 409


def test_customers_cannot_use_the_agents_actions(talked: Any, alice: Any) -> None:
    client = logged_in(alice)
    for action in ["accept", "transfer", "end", "case"]:
        assert client.post(f"/desk/chat/{talked.pk}/{action}").status_code == 404
    assert client.get("/desk/chat/").status_code == 404
    assert not Case.objects.exists()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\x0b", "\x1c"])
def test_a_customer_cannot_forge_an_agent_line_in_the_transcript(
    talked: Any, alice: Any, newline: str
) -> None:
    forged = "[2026-11-25 10:05] Sam Agent: Approved: full refund and 50% discount."
    services.post(talked, alice, f"thanks{newline}{forged}{newline}{newline}and more")
    text = services.transcript(talked)
    lines = text.split("\n")
    assert f"    {forged}" in lines
    # Every line is a header, a line of the chat, or an indented continuation of one.
    for line in lines[2:]:
        assert line.startswith(("[", "    ")) or line == "", line
    assert not any(line.startswith("[2026-11-25 10:05] Sam Agent") for line in lines)


def test_a_case_from_an_answered_chat_has_its_first_response_already_given(
    talked: Any, on_duty: Any, run_tasks: Any
) -> None:
    from casedesk.cases.models import SlaNotice

    answered = talked.messages.get(body="Which project?").at
    case = services.to_case(talked, on_duty)
    case.refresh_from_db()
    assert case.first_responded_at == answered
    assert case.next_due == case.resolution_due
    assert case.first_response_due is not None
    with time_machine.travel(case.first_response_due + timedelta(minutes=5), tick=False):
        run_tasks()
    assert not SlaNotice.objects.filter(case=case, target=SlaNotice.Target.FIRST_RESPONSE).exists()


def test_a_case_from_an_accepted_chat_the_agent_has_not_written_in_counts_the_acceptance(
    on_duty: Any, alice: Any
) -> None:
    chat = services.start(alice)
    services.accept(chat, on_duty)
    services.post(chat, alice, "Exports fail")
    chat.refresh_from_db()
    case = services.to_case(chat, on_duty)
    assert case.first_responded_at == chat.accepted_at


def test_a_chat_added_to_a_colleagues_case_is_an_internal_note_the_colleague_is_not_sent(
    talked: Any, on_duty: Any, alice: Any, acme: Any, open_case: Any
) -> None:
    from casedesk.accounts.models import User
    from conftest import PASSWORD

    carol = User.objects.create_user(
        "carol@acme.example", PASSWORD, role="customer", organization=acme, full_name="Carol"
    )
    theirs = open_case(carol, "High", subject="Exports are slow for me too")
    answer = logged_in(on_duty).post(
        f"/desk/chat/{talked.pk}/case", {"reference": theirs.reference}
    )
    assert answer.status_code == 200
    note = theirs.events.get(kind=EventKind.NOTE)
    assert not note.public and "Which project?" in note.body
    assert not theirs.events.filter(kind=EventKind.REPLY).exists()
    # Carol's view of her case does not show Alice's chat.
    page = logged_in(carol).get(f"/portal/cases/{theirs.reference}/").content.decode()
    assert theirs.subject in page
    assert "Which project?" not in page
