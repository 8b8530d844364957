"""/api/v1/hours/, /oncall/, /oncall/pages/, /organizations/: the desk's facts for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from casedesk.api import services
from casedesk.api.tests.conftest import fields
from casedesk.cases.models import Event, EventKind
from casedesk.oncall.models import Page

pytestmark = pytest.mark.django_db

CT = ZoneInfo("America/Chicago")


def api(person: Any, scopes: list[str]) -> Client:
    _row, token = services.create(services.NewToken(person, "test", scopes))
    return Client(headers={"authorization": f"Bearer {token}"})


def test_hours_say_the_zone_the_week_whether_open_and_the_holidays(
    alice: Any, calendars: None
) -> None:
    client = api(alice, ["cases:read"])
    with time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=CT), tick=False):  # Wed 10:00
        body = client.get("/api/v1/hours/").json()
    assert body["timezone"] == "America/Chicago" and body["open_now"] is True
    assert body["weekly"]["monday"] == [["07:00", "19:00"]] and body["weekly"]["sunday"] == []
    assert body["next_close"].startswith("2026-12-03T01:00")  # 19:00 CST in UTC
    assert {"date": "2026-12-25", "name": "Christmas Day"} in body["holidays"]
    assert any(h["date"].startswith("2027-") for h in body["holidays"])
    one_year = client.get("/api/v1/hours/?year=2027").json()["holidays"]
    assert all(h["date"].startswith("2027-") for h in one_year)
    for bad in ("?year=20x7", "?year=1200"):
        assert client.get(f"/api/v1/hours/{bad}").status_code == 400
    assert client.get("/api/v1/hours/?calendar=nope").status_code == 404


def test_who_is_on_call_now_and_next(team: dict[str, Any]) -> None:
    with time_machine.travel("2026-12-08 12:00:00Z", tick=False):
        body = api(team["avery"], ["oncall:read"]).get("/api/v1/oncall/").json()
    [support] = body
    primary = support["layers"][0]
    assert support["timezone"] == "America/Chicago"
    assert primary["now"]["person"]["email"] == "pat@example.com"


def test_customers_cannot_reach_on_call_or_organizations(alice: Any) -> None:
    """A customer's token cannot even hold those scopes; with a staff scope missing it is a 403."""
    client = api(alice, ["cases:read"])
    assert client.get("/api/v1/oncall/").status_code == 403
    assert client.get("/api/v1/organizations/").status_code == 403


def test_an_engineer_pages_for_a_case_and_acknowledges_it(
    team: dict[str, Any], alice: Any, open_case: Any, standin: Any
) -> None:
    client = api(team["pat"], ["oncall:read", "oncall:write"])
    with time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=CT), tick=False):
        case = open_case(alice, "High", subject="Slow exports")
        response = client.post(
            "/api/v1/oncall/pages/", {"case": case.reference}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        code = response.json()["code"]
        acked = client.post(f"/api/v1/oncall/pages/{code}/acknowledge/")
        again = client.post(f"/api/v1/oncall/pages/{code}/acknowledge/")
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_now"] is True
    assert again.json()["acknowledged_now"] is False
    assert Page.objects.get(code=code).acknowledged_via == "api"
    assert Event.objects.filter(case=case, kind=EventKind.PAGE_ACKNOWLEDGED).exists()
    assert client.post("/api/v1/oncall/pages/NOPE1234/acknowledge/").status_code == 404
    unknown = client.post(
        "/api/v1/oncall/pages/", {"case": "CD-99999"}, content_type="application/json"
    )
    assert fields(unknown)["case"] == ["No such case."]


def test_organizations_list_their_domains_numbers_people_and_active_cases(
    agent: Any, alice: Any, bob: Any, open_case: Any
) -> None:
    open_case(alice, "Low")
    body = api(agent, ["organizations:read"]).get("/api/v1/organizations/").json()
    acme = next(row for row in body if row["name"] == "Acme")
    assert acme["domains"] == ["acme.example"] and acme["active_cases"] == 1
    assert [p["email"] for p in acme["people"]] == ["alice@acme.example"]
