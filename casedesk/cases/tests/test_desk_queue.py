"""The desk queue: active cases, earliest deadline first, filters, search, colours and cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casedesk.cases import services
from casedesk.cases.desk_views import QueueKeys, queue_cases
from casedesk.cases.models import Case

# Wednesday 10:00 in Chicago (support open) and Tuesday 22:00 there (closed).
IN_HOURS = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)
AFTER_HOURS = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)


def listed(response: Any) -> list[str]:
    assert response.status_code == 200
    return [row.case.reference for row in response.context["rows"]]


def set_due(case: Case, due: datetime | None, **fields: Any) -> None:
    Case.objects.filter(pk=case.pk).update(next_due=due, **fields)


def test_the_queue_lists_active_cases_by_next_due_with_no_deadline_last(
    desk: Client, open_case: Any, alice: Any
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        later = open_case(alice, "Low", subject="later")
        sooner = open_case(alice, "Low", subject="sooner")
        no_clock_old = open_case(alice, "Low", subject="no clock, older")
        no_clock_new = open_case(alice, "Low", subject="no clock, newer")
        done = open_case(alice, "Low", subject="done")
    set_due(later, IN_HOURS + timedelta(hours=5))
    set_due(sooner, IN_HOURS + timedelta(hours=1))
    set_due(no_clock_old, None, opened_at=IN_HOURS - timedelta(days=2))
    set_due(no_clock_new, None, opened_at=IN_HOURS - timedelta(days=1))
    set_due(done, None, status="closed")

    with time_machine.travel(IN_HOURS, tick=False):
        rows = listed(desk.get(reverse("desk:queue")))
    assert rows == [
        sooner.reference,
        later.reference,
        no_clock_old.reference,
        no_clock_new.reference,
    ]


def test_the_queue_pages_in_the_same_order(
    desk: Client, open_case: Any, alice: Any, settings: Any
) -> None:
    settings.CASES_PER_PAGE = 10
    with time_machine.travel(IN_HOURS, tick=False):
        cases = [open_case(alice, "Low", subject=f"case {i}") for i in range(23)]
    for i, case in enumerate(cases):
        set_due(case, IN_HOURS + timedelta(minutes=60 - i) if i % 5 else None)
    expected = [c.reference for c in sorted(Case.objects.all(), key=_order)]
    seen = []
    for page in (1, 2, 3):
        seen += listed(desk.get(reverse("desk:queue"), {"page": page}))
    assert seen == expected
    assert listed(desk.get(reverse("desk:queue"), {"page": "nonsense"})) == expected[:10]


def test_every_window_of_the_queue_keys_is_the_queue_order_over_every_status(
    open_case: Any, alice: Any, agent: Any
) -> None:
    """The four status walks, merged (in one statement where the database allows ordered,
    limited parts in a UNION, PostgreSQL; one query each on SQLite), give exactly what
    one query sorted in the queue's order gives, window after window."""
    statuses = ["new", "open", "pending", "on_hold"]
    with time_machine.travel(IN_HOURS, tick=False):
        cases = [open_case(alice, "Low", subject=f"case {i}") for i in range(30)]
    for i, case in enumerate(cases):
        set_due(case, IN_HOURS + timedelta(minutes=(i * 7) % 13) if i % 6 else None)
        Case.objects.filter(pk=case.pk).update(status=statuses[i % 4])
    open_case(alice, "Low", subject="closed")  # not in the queue
    Case.objects.filter(subject="closed").update(status="closed")
    expected = [c.pk for c in sorted(Case.objects.filter(status__in=statuses), key=_order)]
    keys = QueueKeys(queue_cases(agent, {}))
    assert len(keys) == len(expected) == 30
    for start, stop in [(0, 10), (10, 20), (20, 30), (25, 40), (0, 30)]:
        with CaptureQueriesContext(connection) as captured:
            window = keys[start:stop]
        assert window == expected[start:stop]
        one_statement = connection.features.supports_slicing_ordering_in_compound
        assert len(captured) == (1 if one_statement else len(statuses))


def _order(case: Case) -> tuple[Any, ...]:
    return (case.next_due is None, case.next_due or case.opened_at, case.opened_at, case.pk)


@pytest.fixture
def mixed(open_case: Any, alice: Any, bob: Any, agent: Any, admin: Any) -> dict[str, Case]:
    """A queue with something for every filter."""
    with time_machine.travel(AFTER_HOURS, tick=False):
        night = open_case(alice, "Critical", subject="Database corrupted overnight")
    with time_machine.travel(IN_HOURS, tick=False):
        day_critical = open_case(bob, "Critical", subject="Checkout hangs")
        mine = open_case(alice, "High", subject="Export fails")
        theirs = open_case(bob, "Medium", subject="Report totals wrong")
        loose = open_case(alice, "Low", subject="Typo on the invoice")
        services.assign(mine, agent, agent)
        services.assign(theirs, admin, admin)
        services.change_status(theirs, "pending", admin, "Asked for the report")
    return {"night": night, "day": day_critical, "mine": mine, "theirs": theirs, "loose": loose}


def refs(*cases: Case) -> set[str]:
    return {case.reference for case in cases}


def test_each_filter_narrows_the_queue(
    desk: Client, mixed: dict[str, Case], priorities: dict[str, Any], globex: Any, admin: Any
) -> None:
    url = reverse("desk:queue")
    m = mixed
    assert set(listed(desk.get(url))) == refs(*m.values())
    assert set(listed(desk.get(url, {"priority": priorities["Critical"].pk}))) == refs(
        m["night"], m["day"]
    )
    assert set(listed(desk.get(url, {"status": "pending"}))) == refs(m["theirs"])
    assert set(listed(desk.get(url, {"organization": globex.pk}))) == refs(m["day"], m["theirs"])
    assert set(listed(desk.get(url, {"assignee": admin.pk}))) == refs(m["theirs"])
    assert set(listed(desk.get(url, {"show": "mine"}))) == refs(m["mine"])
    assert set(listed(desk.get(url, {"show": "unassigned"}))) == refs(
        m["night"], m["day"], m["loose"]
    )
    assert set(listed(desk.get(url, {"show": "after_hours_critical"}))) == refs(m["night"])
    combined = {"organization": globex.pk, "priority": priorities["Critical"].pk}
    assert set(listed(desk.get(url, combined))) == refs(m["day"])


def test_search_finds_a_reference_a_subject_or_the_requester(
    desk: Client, mixed: dict[str, Case]
) -> None:
    url = reverse("desk:queue")
    m = mixed
    number = m["loose"].reference.removeprefix("CD-")
    assert listed(desk.get(url, {"q": m["loose"].reference})) == [m["loose"].reference]
    assert listed(desk.get(url, {"q": number})) == [m["loose"].reference]
    assert listed(desk.get(url, {"q": f" cd-{number} "})) == [m["loose"].reference]
    assert listed(desk.get(url, {"q": "checkout"})) == [m["day"].reference]
    assert set(listed(desk.get(url, {"q": "bob@globex"}))) == refs(m["day"], m["theirs"])
    assert set(listed(desk.get(url, {"q": "alice example"}))) == refs(
        m["night"], m["mine"], m["loose"]
    )
    assert listed(desk.get(url, {"q": "nothing like this"})) == []


def test_searching_the_reference_of_a_closed_case_links_to_it(
    desk: Client, mixed: dict[str, Case], agent: Any
) -> None:
    services.change_status(mixed["loose"], "closed", agent, "Fixed")
    response = desk.get(reverse("desk:queue"), {"q": mixed["loose"].reference})
    assert listed(response) == []
    assert response.context["closed_match"].pk == mixed["loose"].pk
    assert reverse("desk:case", args=[mixed["loose"].reference]).encode() in response.content


@pytest.mark.parametrize(
    "garbage",
    [
        {"priority": "999999"},
        {"priority": "high"},
        {"status": "closed"},
        {"status": "bogus"},
        {"organization": "x"},
        {"assignee": "999999"},
        {"show": "everything"},
    ],
)
def test_a_filter_value_that_does_not_fit_is_reported_and_ignored(
    desk: Client, mixed: dict[str, Case], garbage: dict[str, str]
) -> None:
    response = desk.get(reverse("desk:queue"), garbage)
    assert set(listed(response)) == refs(*mixed.values())
    assert b"this filter was ignored" in response.content


def test_filtering_by_a_customer_as_assignee_is_refused(
    desk: Client, mixed: dict[str, Case], alice: Any
) -> None:
    response = desk.get(reverse("desk:queue"), {"assignee": alice.pk})
    assert b"this filter was ignored" in response.content


def urgency_of(desk: Client, case: Case) -> str:
    response = desk.get(reverse("desk:queue"))
    (row,) = [r for r in response.context["rows"] if r.case.pk == case.pk]
    return str(row.urgency)


def test_rows_are_fine_then_due_soon_then_breached_as_time_passes(
    desk: Client, open_case: Any, alice: Any
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        case = open_case(alice, "Critical")  # first response due in 2 hours, around the clock
        assert urgency_of(desk, case) == "fine"
        page = desk.get(reverse("desk:queue")).content.decode()
        assert "in 2h 00m" in page
        assert f'data-due="{case.first_response_due.isoformat()}"' in page
    with time_machine.travel(IN_HOURS + timedelta(minutes=75), tick=False):
        assert urgency_of(desk, case) == "soon"
        assert "in 0m 00s" not in desk.get(reverse("desk:queue")).content.decode()
        assert "in 45m 00s" in desk.get(reverse("desk:queue")).content.decode()
    with time_machine.travel(IN_HOURS + timedelta(hours=2, minutes=5), tick=False):
        assert urgency_of(desk, case) == "breached"
        assert "5m 00s overdue" in desk.get(reverse("desk:queue")).content.decode()


def test_a_breach_flag_makes_the_row_breached_even_before_the_next_deadline(
    desk: Client, open_case: Any, alice: Any
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        case = open_case(alice, "Critical")
        Case.objects.filter(pk=case.pk).update(first_response_breached=True)
        assert urgency_of(desk, case) == "breached"
        assert b"breached</span>" in desk.get(reverse("desk:queue")).content


@pytest.mark.usefixtures("steady_status_version")
def test_the_number_of_queries_does_not_grow_with_the_page(
    desk: Client, open_case: Any, alice: Any, bob: Any, agent: Any, settings: Any
) -> None:
    settings.CASES_PER_PAGE = 100

    def make(n: int) -> None:
        for i in range(n):
            case = open_case(alice if i % 2 else bob, "Low", subject=f"case {i}")
            if i % 3 == 0:
                services.assign(case, agent, agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = desk.get(reverse("desk:queue"))
        assert response.status_code == 200
        return len(captured)

    make(5)
    few = queries()
    make(55)
    assert len(desk.get(reverse("desk:queue")).context["rows"]) == 60
    assert queries() == few


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
def test_the_queue_reads_cases_through_the_queue_index(agent: Any, priorities: Any) -> None:
    keys = QueueKeys(queue_cases(agent, {}))
    part = keys.cases.filter(status="open").values_list("next_due", "opened_at", "pk")[:50]
    sql, params = part.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "case_queue_idx" in plan


def test_a_case_raised_to_critical_after_hours_is_in_the_after_hours_filter(
    desk: Client, open_case: Any, alice: Any, agent: Any, priorities: dict[str, Any]
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        raised = open_case(alice, "Medium", subject="Slow, then everything stopped")
    with time_machine.travel(AFTER_HOURS, tick=False):
        services.change_priority(raised, priorities["Critical"], agent, "Nobody can log in now.")
    shown = listed(desk.get(reverse("desk:queue"), {"show": "after_hours_critical"}))
    assert shown == [raised.reference]
