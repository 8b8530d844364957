"""/help/priorities/: public, built from the Priority rows an admin edits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk.cases.models import Priority

pytestmark = pytest.mark.django_db


def test_anyone_sees_each_priority_its_definition_and_target(client):
    page = client.get("/help/priorities/")
    assert page.status_code == 200
    text = page.content.decode()
    for name in ("Critical", "High", "Medium", "Low"):
        assert f">{name}</th>" in text
    assert "production use of the product is stopped" in text.lower()
    assert "(c) the product is inaccessible to all users" in text
    assert "2 hours, around the clock" in text
    assert "4 business hours" in text and "12 business hours" in text
    assert "24 business hours" in text
    assert "press 1" in text


def test_an_admins_change_shows_at_once(client):
    Priority.objects.filter(name="High").update(first_response_target=timedelta(hours=3))
    assert "3 business hours" in client.get("/help/priorities/").content.decode()


def test_the_page_only_answers_get(client):
    assert client.post("/help/priorities/").status_code == 405
