"""The front door: where a log-in lands, and what a visitor sees."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_customer_lands_on_her_cases_and_staff_on_the_queue(client, alice, agent):
    client.force_login(alice)
    assert client.get("/")["Location"] == "/portal/"
    client.force_login(agent)
    assert client.get("/")["Location"] == "/desk/"


def test_a_visitor_sees_the_hours_and_the_ways_to_open_a_critical_case(client, settings):
    page = client.get("/").content.decode()
    assert "Support is" in page
    assert "2 hours, around the clock" in page
    assert settings.SUPPORT_EMAILS[0] in page and settings.EMERGENCY_PHONE in page


def test_a_customer_following_a_desk_link_lands_on_her_cases_not_a_404(client, alice):
    from conftest import PASSWORD

    response = client.post(
        "/accounts/login/?next=/desk/cases/CD-1001/",
        {"username": alice.email, "password": PASSWORD},
    )
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/portal/"


def test_an_agent_following_a_desk_link_gets_there(client, agent):
    from conftest import PASSWORD

    response = client.post(
        "/accounts/login/?next=/desk/cases/CD-1001/",
        {"username": agent.email, "password": PASSWORD},
    )
    assert response["Location"] == "/desk/cases/CD-1001/"


def test_a_calendar_that_never_closes_is_simply_open(client):
    from casedesk.hours.models import Calendar

    Calendar.objects.filter(name="default").delete()
    always = Calendar.objects.get(name="24x7")
    always.name = "default"
    always.save()
    page = client.get("/").content.decode()
    assert "Support is open</strong>." in page
