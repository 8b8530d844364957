"""Only support staff reach the desk: customers get 404 on every desk URL, anonymous people log in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from casedesk.cases.models import Case

ACTIONS = ["desk:reply", "desk:status", "desk:priority", "desk:downgrade", "desk:assign"]


def desk_urls(case: Case) -> list[tuple[str, str]]:
    """Every desk URL with the method it answers: the pages (GET) and the actions (POST)."""
    return [
        ("get", reverse("desk:queue")),
        ("get", reverse("desk:case", args=[case.reference])),
        *[("post", reverse(name, args=[case.reference])) for name in ACTIONS],
    ]


def logged_in(person: Any) -> Client:
    client = Client()
    client.force_login(person)
    return client


@pytest.fixture
def case(open_case: Any, alice: Any) -> Any:
    return open_case(alice, "Critical", subject="Nobody can log in")


def test_every_desk_url_is_a_404_for_the_customer_of_the_case(case: Case, alice: Any) -> None:
    client = logged_in(alice)
    before = case.events.count()
    for method, url in desk_urls(case):
        for verb in ("get", "post"):
            response = getattr(client, verb)(url, {"status": "closed", "reason": "x"})
            assert response.status_code == 404, (method, verb, url)
    case.refresh_from_db()
    assert case.status == "new"
    assert case.events.count() == before


def test_every_desk_url_is_a_404_for_a_customer_of_another_organization(
    case: Case, bob: Any
) -> None:
    client = logged_in(bob)
    for method, url in desk_urls(case):
        response = getattr(client, method)(url)
        assert response.status_code == 404, url


def test_anonymous_people_are_sent_to_log_in_from_every_desk_url(case: Case) -> None:
    client = Client()
    before = case.events.count()
    for method, url in desk_urls(case):
        response = getattr(client, method)(url, {"status": "closed", "reason": "x"})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert case.events.count() == before


@pytest.mark.parametrize("person", ["agent", "admin"])
def test_agents_and_admins_see_the_queue_and_the_case(
    case: Case, person: str, request: pytest.FixtureRequest
) -> None:
    client = logged_in(request.getfixturevalue(person))
    assert client.get(reverse("desk:queue")).status_code == 200
    page = client.get(reverse("desk:case", args=[case.reference]))
    assert page.status_code == 200
    assert b"Nobody can log in" in page.content


def test_an_inactive_agent_is_not_let_in(case: Case, agent: Any) -> None:
    client = logged_in(agent)
    agent.is_active = False
    agent.save()
    response = client.get(reverse("desk:queue"))
    assert response.status_code in (302, 404)


def test_the_actions_only_take_posts(case: Case, agent: Any) -> None:
    client = logged_in(agent)
    for name in ACTIONS:
        assert client.get(reverse(name, args=[case.reference])).status_code == 405


@pytest.mark.parametrize("reference", ["CD-abc", "CD-999999", "0", "CD-"])
def test_a_reference_that_names_no_case_is_a_404(agent: Any, reference: str, db: None) -> None:
    client = logged_in(agent)
    assert client.get(f"/desk/cases/{reference}/").status_code == 404
    assert client.post(f"/desk/cases/{reference}/status/", {"status": "open"}).status_code == 404
