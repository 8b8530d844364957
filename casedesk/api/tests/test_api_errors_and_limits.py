"""How the API refuses: RFC 9457 problem documents, and a 429 with Retry-After per token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from casedesk.api import services
from casedesk.lib.env import Rate

pytestmark = pytest.mark.django_db


def api(person: Any) -> Client:
    _row, token = services.create(services.NewToken(person, "test", ["cases:read"]))
    return Client(headers={"authorization": f"Bearer {token}"})


def test_a_refusal_is_a_problem_document(client: Client) -> None:
    response = client.get("/api/v1/me/")
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank" and problem["status"] == 401
    assert problem["title"] == "Unauthorized" and problem["instance"] == "/api/v1/me/"
    assert "Authentication credentials were not provided." in problem["detail"]


def test_a_bad_field_names_itself_in_the_detail_and_the_errors(alice: Any) -> None:
    problem = api(alice).get("/api/v1/cases/?status=melted").json()
    assert problem["detail"].startswith("status: unknown status 'melted'")
    assert problem["errors"] == [{"field": "status", "detail": problem["detail"][8:]}]


def test_a_token_over_its_rate_gets_a_429_saying_when_to_try_again(
    alice: Any, settings: Any
) -> None:
    settings.RATE_API_REQUESTS = Rate(3, timedelta(minutes=1))
    client = api(alice)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["status"] == 429
    assert api(alice).get("/api/v1/me/").status_code == 200  # another token has its own count


def test_an_unknown_endpoint_is_a_404_problem_document(client: Client) -> None:
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "/api/v1/docs/" in response.json()["detail"]
