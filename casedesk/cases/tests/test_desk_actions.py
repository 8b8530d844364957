"""Working a case from the desk: every action goes through cases.services and redirects;
bad input shows a clear message and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from casedesk.cases import services
from casedesk.cases.models import Case, Event, EventKind

IN_HOURS = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Chicago
AFTER_HOURS = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)  # Tuesday 22:00 in Chicago


@pytest.fixture
def critical(open_case: Any, alice: Any) -> Any:
    with time_machine.travel(AFTER_HOURS, tick=False):
        return open_case(alice, "Critical", subject="Nobody can log in")


def url(name: str, case: Case) -> str:
    return reverse(f"desk:{name}", args=[case.reference])


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def snapshot(case: Case) -> tuple[Any, ...]:
    row = fresh(case)
    return (
        row.status,
        row.priority_id,
        row.assignee_id,
        row.first_responded_at,
        row.events.count(),
    )


def assert_redirects_to_case(response: Any, case: Case) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("desk:case", args=[case.reference]))


def assert_refused(response: Any, message: str) -> None:
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed" in page
    assert message in page, page


def test_first_public_reply_stops_the_response_clock(
    desk: Client, critical: Case, agent: Any
) -> None:
    with time_machine.travel(AFTER_HOURS + timedelta(minutes=30), tick=False):
        response = desk.post(url("reply", critical), {"kind": "reply", "body": "Looking now."})
    assert_redirects_to_case(response, critical)
    case = fresh(critical)
    assert case.first_responded_at == AFTER_HOURS + timedelta(minutes=30)
    assert case.status == "open"
    reply = case.events.get(kind=EventKind.REPLY)
    assert reply.public and reply.author == agent and reply.body == "Looking now."
    followed = desk.get(response["Location"])
    assert "Your reply was sent to the customer." in followed.content.decode()


def test_an_internal_note_is_not_a_first_response(desk: Client, critical: Case) -> None:
    response = desk.post(url("reply", critical), {"kind": "note", "body": "Customer is on v4.2"})
    assert_redirects_to_case(response, critical)
    case = fresh(critical)
    assert case.first_responded_at is None
    note = case.events.get(kind=EventKind.NOTE)
    assert not note.public
    page = desk.get(url("case", critical)).content.decode()
    assert 'class="event note internal"' in page
    assert "internal, the customer does not see it" in page


def test_a_reply_can_set_the_status_and_carry_files(
    desk: Client, critical: Case, settings: Any
) -> None:
    upload = SimpleUploadedFile("steps.txt", b"1. open the page\n2. it hangs\n")
    response = desk.post(
        url("reply", critical),
        {"kind": "reply", "body": "Please try this.", "status": "pending", "attachments": [upload]},
    )
    assert_redirects_to_case(response, critical)
    case = fresh(critical)
    assert case.status == "pending"
    assert case.paused_since is not None
    (attachment,) = case.attachments.all()
    assert attachment.name == "steps.txt" and attachment.public
    link = reverse("case_file", args=[case.reference, attachment.pk, attachment.name])
    assert link in desk.get(url("case", critical)).content.decode()


def test_an_empty_reply_is_refused_with_the_services_message(desk: Client, critical: Case) -> None:
    before = snapshot(critical)
    response = desk.post(url("reply", critical), {"kind": "reply", "body": "   "})
    assert_refused(response, "Write a reply or attach a file.")
    assert snapshot(critical) == before


def test_a_file_the_services_reject_is_refused(desk: Client, critical: Case) -> None:
    before = snapshot(critical)
    upload = SimpleUploadedFile("page.txt", b"<html><script>alert(1)</script>")
    response = desk.post(
        url("reply", critical), {"kind": "reply", "body": "x", "attachments": [upload]}
    )
    assert_refused(response, "contains a web page or script")
    assert snapshot(critical) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "reply", "body": "hi", "status": "escalated"}, "Select a valid choice"),
        ({"kind": "shout", "body": "hi"}, "Select a valid choice"),
    ],
)
def test_a_reply_with_an_unknown_status_or_kind_changes_nothing(
    desk: Client, critical: Case, data: dict[str, str], message: str
) -> None:
    before = snapshot(critical)
    assert_refused(desk.post(url("reply", critical), data), message)
    assert snapshot(critical) == before


def test_a_closed_case_takes_no_reply(desk: Client, critical: Case, agent: Any) -> None:
    services.change_status(critical, "closed", agent, "Done")
    before = snapshot(critical)
    response = desk.post(url("reply", critical), {"kind": "reply", "body": "One more thing"})
    assert_refused(response, "is closed; open a new case")
    assert snapshot(critical) == before


def test_changing_the_status_records_the_reason_on_the_timeline(
    desk: Client, critical: Case
) -> None:
    response = desk.post(url("status", critical), {"status": "on_hold", "reason": "Waiting on R&D"})
    assert_redirects_to_case(response, critical)
    case = fresh(critical)
    assert case.status == "on_hold"
    event = case.events.get(kind=EventKind.STATUS)
    assert (event.old_value, event.new_value, event.reason) == ("new", "on_hold", "Waiting on R&D")
    page = desk.get(url("case", critical)).content.decode()
    assert "New → <strong>On hold</strong>" in page
    assert "Waiting on R&amp;D" in page


@pytest.mark.parametrize("status", ["escalated", "", "OPEN"])
def test_an_unknown_status_value_changes_nothing(desk: Client, critical: Case, status: str) -> None:
    before = snapshot(critical)
    response = desk.post(url("status", critical), {"status": status, "reason": "x"})
    assert response.status_code == 400
    assert snapshot(critical) == before


def test_setting_the_status_it_already_has_says_so(desk: Client, critical: Case) -> None:
    before = snapshot(critical)
    assert_refused(desk.post(url("status", critical), {"status": "new"}), "is already New")
    assert snapshot(critical) == before


def test_a_closed_case_stays_closed(desk: Client, critical: Case, agent: Any) -> None:
    services.change_status(critical, "closed", agent, "Done")
    before = snapshot(critical)
    response = desk.post(url("status", critical), {"status": "open", "reason": "again"})
    assert_refused(response, "closed cases stay closed")
    assert snapshot(critical) == before


def test_changing_the_priority_needs_a_reason(
    desk: Client, open_case: Any, alice: Any, priorities: dict[str, Any]
) -> None:
    case = open_case(alice, "Low")
    before = snapshot(case)
    response = desk.post(url("priority", case), {"priority": priorities["High"].pk, "reason": "  "})
    assert_refused(response, "Say why the priority changes; the customer sees it.")
    assert snapshot(case) == before

    response = desk.post(
        url("priority", case), {"priority": priorities["High"].pk, "reason": "Many users hit it"}
    )
    assert_redirects_to_case(response, case)
    assert fresh(case).priority == priorities["High"]
    event = fresh(case).events.get(kind=EventKind.PRIORITY)
    assert (event.old_value, event.new_value, event.public) == ("Low", "High", True)


@pytest.mark.parametrize("priority", ["999999", "Critical", ""])
def test_a_priority_that_does_not_exist_changes_nothing(
    desk: Client, open_case: Any, alice: Any, priority: str
) -> None:
    case = open_case(alice, "Low")
    before = snapshot(case)
    response = desk.post(url("priority", case), {"priority": priority, "reason": "because"})
    assert response.status_code == 400
    assert "Nothing was changed" in response.content.decode()
    assert snapshot(case) == before


def test_the_same_priority_is_refused_with_the_services_message(
    desk: Client, open_case: Any, alice: Any, priorities: dict[str, Any]
) -> None:
    case = open_case(alice, "Low")
    response = desk.post(url("priority", case), {"priority": priorities["Low"].pk, "reason": "x"})
    assert_refused(response, "is already Low")


def test_raising_a_case_to_critical_records_what_makes_it_critical(
    desk: Client, open_case: Any, alice: Any, priorities: dict[str, Any]
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        case = open_case(alice, "High")
        response = desk.post(
            url("priority", case),
            {
                "priority": priorities["Critical"].pk,
                "reason": "All users locked out",
                "characteristics": ["c"],
                "business_impact": "The whole company is down",
            },
        )
    assert_redirects_to_case(response, case)
    case = fresh(case)
    assert case.priority.is_critical
    assert case.characteristics == "c"
    assert case.business_impact == "The whole company is down"


def test_downgrading_a_critical_case_tells_the_customer_why(
    desk: Client, critical: Case, priorities: dict[str, Any], alice: Any
) -> None:
    page = desk.get(url("case", critical)).content.decode()
    assert "The customer sees your reason." in page
    assert "Acme has had 0 critical cases downgraded." in page

    response = desk.post(
        url("downgrade", critical),
        {"priority": priorities["Medium"].pk, "reason": "One user's report; others can work."},
    )
    assert_redirects_to_case(response, critical)
    case = fresh(critical)
    assert case.priority == priorities["Medium"]
    event = case.events.get(kind=EventKind.DOWNGRADE)
    assert event.public and event.reason == "One user's report; others can work."
    assert services.downgrades_of(case.organization) == 1


def test_the_downgrade_count_is_shown_on_the_next_critical_case(
    desk: Client, critical: Case, priorities: dict[str, Any], open_case: Any, alice: Any, agent: Any
) -> None:
    services.downgrade(critical, priorities["Low"], agent, "Not down")
    another = open_case(alice, "Critical", subject="Down again")
    page = desk.get(url("case", another)).content.decode()
    assert "Acme has had 1 critical case downgraded." in page


def test_a_downgrade_needs_a_reason_and_a_lower_priority(
    desk: Client, critical: Case, priorities: dict[str, Any]
) -> None:
    before = snapshot(critical)
    medium = priorities["Medium"].pk
    blank = desk.post(url("downgrade", critical), {"priority": medium, "reason": ""})
    assert_refused(blank, "Say why the case is not critical; the customer sees it.")
    to_critical = desk.post(
        url("downgrade", critical), {"priority": priorities["Critical"].pk, "reason": "x"}
    )
    assert_refused(to_critical, "Select a valid choice")
    missing = desk.post(url("downgrade", critical), {"priority": "424242", "reason": "x"})
    assert_refused(missing, "Select a valid choice")
    assert snapshot(critical) == before


def test_only_critical_cases_can_be_downgraded(
    desk: Client, open_case: Any, alice: Any, priorities: dict[str, Any]
) -> None:
    case = open_case(alice, "High")
    assert "Downgrade: not critical" not in desk.get(url("case", case)).content.decode()
    before = snapshot(case)
    response = desk.post(url("downgrade", case), {"priority": priorities["Low"].pk, "reason": "x"})
    assert_refused(response, "is not critical")
    assert snapshot(case) == before


def test_an_agent_takes_assigns_and_unassigns_a_case(
    desk: Client, critical: Case, agent: Any, admin: Any
) -> None:
    taken = desk.post(url("assign", critical), {"assignee": agent.pk})
    assert_redirects_to_case(taken, critical)
    assert fresh(critical).assignee == agent
    assert "You took" in desk.get(taken["Location"]).content.decode()

    desk.post(url("assign", critical), {"assignee": admin.pk})
    assert fresh(critical).assignee == admin

    desk.post(url("assign", critical), {"assignee": ""})
    assert fresh(critical).assignee is None
    events = Event.objects.filter(case=critical, kind=EventKind.ASSIGNMENT).order_by("pk")
    assert [(e.old_value, e.new_value) for e in events] == [
        ("", agent.email),
        (agent.email, admin.email),
        (admin.email, ""),
    ]
    assert not any(e.public for e in events)
    page = desk.get(url("case", critical)).content.decode()
    assert f"Assigned to <strong>{admin.email}</strong>" in page


@pytest.mark.parametrize("who", ["alice", "bob", "nobody"])
def test_a_case_cannot_go_to_a_customer_or_someone_unknown(
    desk: Client, critical: Case, who: str, request: pytest.FixtureRequest
) -> None:
    assignee = "999999" if who == "nobody" else request.getfixturevalue(who).pk
    before = snapshot(critical)
    response = desk.post(url("assign", critical), {"assignee": assignee})
    assert_refused(response, "Cases go to active agents or admins only.")
    assert snapshot(critical) == before


def test_an_inactive_agent_cannot_be_assigned(desk: Client, critical: Case, admin: Any) -> None:
    admin.is_active = False
    admin.save()
    before = snapshot(critical)
    assert_refused(
        desk.post(url("assign", critical), {"assignee": admin.pk}),
        "Cases go to active agents or admins only.",
    )
    assert snapshot(critical) == before


def test_posts_without_a_csrf_token_are_refused(agent: Any, critical: Case) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    before = snapshot(critical)
    response = client.post(url("status", critical), {"status": "open"})
    assert response.status_code == 403
    assert snapshot(critical) == before
