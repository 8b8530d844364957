"""The portal's list: my organization's cases, newest first, by state, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casedesk.cases import services
from casedesk.cases.models import Status

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def open_cases(open_case, person, count, start=MONDAY, **fields):
    return [
        open_case(person, "Low", subject=f"Question {i}", opened_at=start + timedelta(minutes=i))
        for i in range(count)
    ]


def rows(client, **params):
    html = client.get(reverse("portal:home"), params).content.decode()
    return [line for line in html.splitlines() if '<tr class="status-' in line], html


def test_the_list_shows_the_columns_a_customer_needs(client, alice, open_case):
    case = open_case(alice, "High", subject="Exports fail")
    client.force_login(alice)
    html = client.get(reverse("portal:home")).content.decode()
    for text in (case.reference, "Exports fail", "High", "New", "Alice Example"):
        assert text in html
    assert reverse("portal:case", args=[case.reference]) in html
    assert "Opened" in html and "Last update" in html


def test_cases_are_listed_newest_first(client, alice, open_case):
    first, second, third = open_cases(open_case, alice, 3)
    client.force_login(alice)
    html = client.get(reverse("portal:home")).content.decode()
    assert html.index(third.reference) < html.index(second.reference) < html.index(first.reference)


def test_the_open_tab_is_the_default_and_resolved_cases_have_their_own(
    client, alice, agent, open_case
):
    active, resolved, closed = open_cases(open_case, alice, 3)
    services.change_status(resolved, Status.RESOLVED, agent)
    services.change_status(closed, Status.CLOSED, agent)
    client.force_login(alice)
    _, default = rows(client)
    assert active.reference in default
    assert resolved.reference not in default and closed.reference not in default
    _, done = rows(client, status="done")
    assert resolved.reference in done and closed.reference in done
    assert active.reference not in done
    _, everything = rows(client, status="all")
    assert all(c.reference in everything for c in (active, resolved, closed))


def test_pending_and_on_hold_cases_count_as_open(client, alice, agent, open_case):
    pending, held = open_cases(open_case, alice, 2)
    services.change_status(pending, Status.PENDING, agent)
    services.change_status(held, Status.ON_HOLD, agent)
    client.force_login(alice)
    _, html = rows(client, status="open")
    assert "Pending customer" in html and "On hold" in html


def test_an_empty_tab_says_so_and_offers_a_new_case(client, alice):
    client.force_login(alice)
    html = client.get(reverse("portal:home")).content.decode()
    assert "Your organization has no open cases." in html
    assert reverse("portal:new") in html


def test_the_list_is_paginated_with_the_configured_page_size(client, alice, open_case, settings):
    settings.CASES_PER_PAGE = 10
    cases = open_cases(open_case, alice, 12)
    client.force_login(alice)
    first, html = rows(client)
    assert len(first) == 10
    assert "Page 1 of 2" in html and "?status=open&amp;page=2" in html
    second, html = rows(client, page=2)
    assert len(second) == 2
    assert cases[0].reference in html and cases[11].reference not in html
    beyond, _ = rows(client, page=99)  # past the end: the last page
    assert len(beyond) == 2


@pytest.mark.usefixtures("steady_status_version")
def test_the_list_costs_the_same_queries_for_one_case_or_a_full_page(
    client, alice, open_case, settings
):
    settings.CASES_PER_PAGE = 10
    open_cases(open_case, alice, 1)
    client.force_login(alice)
    client.get(reverse("portal:home"))  # warm the calendar cache
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("portal:home"))
    open_cases(open_case, alice, 14, start=MONDAY + timedelta(hours=1))
    with CaptureQueriesContext(connection) as full:
        response = client.get(reverse("portal:home"))
    assert response.content.decode().count('<tr class="status-') == 10
    assert len(full) == len(one), [q["sql"] for q in full]


def test_a_customer_can_list_the_cases_waiting_on_them(client, alice, agent, open_case):
    from casedesk.cases import services

    waiting = open_case(alice, "Low", subject="Needs your log")
    open_case(alice, "Low", subject="Being worked on")
    services.add_reply(waiting, agent, "Please send the log.", status="pending")
    client.force_login(alice)
    page = client.get("/portal/", {"status": "pending"}).content.decode()
    assert "Needs your log" in page and "Being worked on" not in page
    assert "Waiting on you" in page
