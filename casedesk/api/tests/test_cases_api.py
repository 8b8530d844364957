"""/api/v1/cases/: what a token's owner may see of the cases, as the portal or desk shows it.

Tenant isolation through the API: a customer's token sees only their organization's cases
and only the public part of a timeline; another organization's case is a 404, in a list,
a filter, a detail or a timeline."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from casedesk.api import services
from casedesk.api.tests.conftest import fields
from casedesk.cases import services as case_services

pytestmark = pytest.mark.django_db


def api(person: Any, scopes: tuple[str, ...] = ("cases:read",)) -> Client:
    _row, token = services.create(services.NewToken(person, "test", list(scopes)))
    return Client(headers={"authorization": f"Bearer {token}"})


def references(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [case["reference"] for case in response.json()["results"]]


@pytest.fixture
def cases(open_case: Any, alice: Any, bob: Any, agent: Any) -> dict[str, Any]:
    acme = open_case(alice, "Medium", subject="Exports fail")
    globex = open_case(bob, "High", subject="Globex invoices")
    case_services.add_reply(acme, agent, "Looking at it.")
    case_services.add_note(acme, agent, "Internal: the export worker is stuck.")
    return {"acme": acme, "globex": globex}


def test_a_customer_lists_only_their_organizations_cases(alice: Any, cases: Any) -> None:
    assert references(api(alice).get("/api/v1/cases/")) == [cases["acme"].reference]


def test_another_organizations_case_is_a_404_everywhere(alice: Any, cases: Any) -> None:
    client = api(alice)
    other = cases["globex"].reference
    assert client.get(f"/api/v1/cases/{other}/").status_code == 404
    assert client.get(f"/api/v1/cases/{other}/timeline/").status_code == 404
    assert references(client.get("/api/v1/cases/?priority=High")) == []


def test_a_customer_sees_the_public_timeline_and_no_internal_note(alice: Any, cases: Any) -> None:
    response = api(alice).get(f"/api/v1/cases/{cases['acme'].reference}/timeline/")
    assert response.status_code == 200
    bodies = [event["body"] for event in response.json()]
    assert "Looking at it." in bodies
    assert not any("Internal" in body for body in bodies)
    assert all(event["public"] for event in response.json())


def test_staff_see_every_case_and_the_whole_timeline(agent: Any, cases: Any) -> None:
    client = api(agent)
    assert set(references(client.get("/api/v1/cases/"))) == {
        cases["acme"].reference,
        cases["globex"].reference,
    }
    timeline = client.get(f"/api/v1/cases/{cases['acme'].reference}/timeline/").json()
    assert any(not event["public"] and "Internal" in event["body"] for event in timeline)


def test_a_case_says_its_clock_and_links_to_the_page_its_reader_uses(
    alice: Any, agent: Any, cases: Any
) -> None:
    reference = cases["acme"].reference
    mine = api(alice).get(f"/api/v1/cases/{reference}/").json()
    assert mine["subject"] == "Exports fail" and mine["priority"] == "Medium"
    assert mine["first_response_due"] and mine["organization"]["name"] == "Acme"
    assert mine["url"] == f"/portal/cases/{reference}/" and mine["assignee"] is None
    desk = api(agent).get(f"/api/v1/cases/{reference}/").json()
    assert desk["url"] == f"/desk/cases/{reference}/"


def test_filters_narrow_the_list_and_bad_ones_say_what_is_wrong(
    agent: Any, alice: Any, cases: Any
) -> None:
    client = api(agent)
    assert references(client.get("/api/v1/cases/?priority=High")) == [cases["globex"].reference]
    org = cases["acme"].organization_id
    assert references(client.get(f"/api/v1/cases/?organization={org}")) == [cases["acme"].reference]
    assert references(client.get("/api/v1/cases/?assignee=none&status=new,open")) != []
    for query, field in [
        ("status=melted", "status"),
        ("updated_since=yesterday", "updated_since"),
        ("organization=acme", "organization"),
    ]:
        assert field in fields(client.get(f"/api/v1/cases/?{query}")), query
    refused = api(alice).get(f"/api/v1/cases/?organization={cases['globex'].organization_id}")
    assert "organization" in fields(refused)


def test_pages_follow_a_cursor_and_never_repeat_a_case(open_case: Any, alice: Any) -> None:
    opened = [open_case(alice, "Low", subject=f"Case {n}").reference for n in range(5)]
    client = api(alice)
    seen: list[str] = []
    url: str | None = "/api/v1/cases/?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [case["reference"] for case in body["results"]]
        url = body["next"]
    assert seen == list(reversed(opened))


def test_a_token_without_the_cases_scope_is_refused(alice: Any, cases: Any) -> None:
    response = api(alice, ("status:read",)).get("/api/v1/cases/")
    assert response.status_code == 403
    assert "cases:read" in response.json()["detail"]


@pytest.mark.parametrize("reference", ["CD-0", "nonsense", "CD-99999999", "%00", "CD-1x"])
def test_a_reference_that_names_no_case_is_a_404(alice: Any, reference: str) -> None:
    assert api(alice).get(f"/api/v1/cases/{reference}/").status_code == 404


def test_a_page_of_cases_costs_the_same_queries_however_many_it_holds(
    open_case: Any, alice: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/cases/").status_code == 200
        return len(captured)

    open_case(alice, "Low")
    queries()  # the first use writes the token's "last used"
    few = queries()
    for n in range(8):
        open_case(alice, "Low", subject=f"More {n}")
    assert queries() == few
