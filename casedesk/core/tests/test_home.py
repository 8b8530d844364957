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
