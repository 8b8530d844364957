"""What an agent sees on a case: the header, the SLA, why it is critical, the whole timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from casedesk.cases import services
from casedesk.cases.desk_views import OTHER_OPEN_CASES_SHOWN, QUEUE_ORDER
from casedesk.cases.models import Case, Event, EventKind
from casedesk.cases.presenters import countdown

AFTER_HOURS = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)  # Tuesday 22:00 in Chicago


@pytest.fixture
def critical(open_case: Any, alice: Any) -> Any:
    with time_machine.travel(AFTER_HOURS, tick=False):
        return open_case(
            alice,
            "Critical",
            subject="Nobody can log in",
            characteristics="ac",
            business_impact="All 300 staff are idle.",
        )


def page(desk: Client, case: Case) -> str:
    response = desk.get(reverse("desk:case", args=[case.reference]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_header_shows_who_what_and_when(desk: Client, critical: Case) -> None:
    with time_machine.travel(AFTER_HOURS + timedelta(minutes=10), tick=False):
        html = page(desk, critical)
    for text in [
        "Nobody can log in",
        "Acme",
        "alice@acme.example",
        "Alice Example",
        "Critical",
        "New",
        "Portal",
        "unassigned",
        "opened outside support hours",
    ]:
        assert text in html, text
    assert f'datetime="{critical.first_response_due.isoformat()}"' in html
    assert "not yet" in html  # not responded
    assert "in 1h 50m" in html


def test_the_page_shows_times_in_the_viewers_zone(desk: Client, critical: Case) -> None:
    desk.cookies["casedesk_tz"] = "America/Chicago"
    html = page(desk, critical)
    assert "Tue Mar 11 2025, 22:00 CDT" in html
    assert "America/Chicago" in html


def test_a_critical_case_shows_its_characteristics_and_business_impact(
    desk: Client, critical: Case
) -> None:
    html = page(desk, critical)
    assert "(a) data corruption" in html
    assert "(c) the product is inaccessible to all users" in html
    assert "All 300 staff are idle." in html


def test_the_timeline_shows_every_kind_of_entry(
    desk: Client, critical: Case, agent: Any, admin: Any, priorities: dict[str, Any]
) -> None:
    services.add_reply(critical, agent, "We are on it.")
    services.add_note(critical, agent, "Looks like the SSO certificate expired.")
    services.assign(critical, admin, agent)
    services.change_status(critical, "pending", agent, "Asked for logs")
    services.downgrade(critical, priorities["High"], agent, "Only one office affected")
    Event.objects.create(case=critical, kind=EventKind.SLA_WARNING, body="Resolution due soon")
    Event.objects.create(case=critical, kind=EventKind.SLA_BREACH, body="Resolution breached")
    html = page(desk, critical)
    kinds = [kind for kind in EventKind.values if f'data-kind="{kind}"' in html]
    assert set(kinds) >= {
        "opened",
        "after_hours_critical",
        "reply",
        "note",
        "assignment",
        "status",
        "downgrade",
        "sla_warning",
        "sla_breach",
    }
    assert "We are on it." in html
    assert "Looks like the SSO certificate expired." in html
    assert "Pending customer" in html and "Asked for logs" in html
    assert "Critical → <strong>High</strong>" in html and "Only one office affected" in html
    assert "on-call engineer must respond" in html
    assert 'class="event sla_breach alarm"' in html


def test_the_sla_shows_the_pause_and_breach_flags(desk: Client, critical: Case, agent: Any) -> None:
    services.add_reply(critical, agent, "Please send logs.", status="pending")
    Case.objects.filter(pk=critical.pk).update(resolution_breached=True)
    html = page(desk, critical)
    assert "paused since" in html
    assert "resolution breached" in html


def test_the_page_lists_the_organizations_other_open_cases(
    desk: Client, critical: Case, open_case: Any, alice: Any, bob: Any, agent: Any
) -> None:
    other = open_case(alice, "Low", subject="Invoice typo")
    closed = open_case(alice, "Low", subject="Old question")
    services.change_status(closed, "closed", agent, "Answered")
    elsewhere = open_case(bob, "Low", subject="Globex thing")
    html = page(desk, critical)
    assert other.reference in html and "Invoice typo" in html
    assert "Old question" not in html
    assert "Globex thing" not in html and elsewhere.reference not in html


def test_the_other_open_cases_are_the_first_twenty_in_queue_order_over_every_status(
    desk: Client, critical: Case, open_case: Any, alice: Any
) -> None:
    """Read one status at a time, then merged: the same twenty, in the same order, as one
    query over every active status sorted by the queue's order would give."""
    base = datetime(2025, 3, 20, 15, 0, tzinfo=UTC)
    statuses = ["new", "open", "pending", "on_hold"]
    for i in range(26):
        case = open_case(alice, "Low", subject=f"Other {i}")
        due = None if i % 7 == 3 else base + timedelta(hours=(i * 5) % 11)
        Case.objects.filter(pk=case.pk).update(status=statuses[i % 4], next_due=due)
    expected = list(
        Case.objects.filter(organization=critical.organization, status__in=statuses)
        .exclude(pk=critical.pk)
        .order_by(*QUEUE_ORDER)
        .values_list("subject", flat=True)[:OTHER_OPEN_CASES_SHOWN]
    )
    html = page(desk, critical)
    listed = re.search(r'<ul class="other-open">(.*?)</ul>', html, re.S)
    assert listed is not None
    assert re.findall(r"</a> (Other \d+)", listed.group(1)) == expected
    assert len(expected) == OTHER_OPEN_CASES_SHOWN < 26


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2 * 3600, "in 2h 00m"),
        (59 * 60 + 5, "in 59m 05s"),
        (0, "in 0m 00s"),
        (-305, "5m 05s overdue"),
        (3 * 86400 + 4 * 3600 + 50, "in 3d 4h"),
    ],
)
def test_the_countdown_text(seconds: int, text: str) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert countdown(now + timedelta(seconds=seconds), now) == text


def test_a_closed_case_offers_no_forms(
    desk: Client, open_case: Any, alice: Any, agent: Any
) -> None:
    case = open_case(alice, "Low")
    services.change_status(case, "closed", agent)
    page = desk.get(f"/desk/cases/{case.reference}/").content.decode()
    assert "is closed: it takes no more replies or changes" in page
    assert 'id="reply"' not in page and 'id="priority"' not in page and 'id="assign"' not in page
