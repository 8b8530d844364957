"""A POST retried with the same Idempotency-Key gets the first answer, not a second reply."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client, RequestFactory
from rest_framework.request import Request

from casedesk.api import idempotency, services
from casedesk.api.models import ApiToken, IdempotentRequest
from casedesk.api.tests.conftest import fields
from casedesk.cases.models import Event, EventKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(agent: Any) -> Client:
    _row, token = services.create(services.NewToken(agent, "t", ["cases:read", "cases:write"]))
    return Client(headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def case(open_case: Any, alice: Any) -> Any:
    return open_case(alice, "Medium")


def reply(client: Client, case: Any, body: str, key: str | None) -> Any:
    headers = {"idempotency-key": key} if key is not None else {}
    return client.post(
        f"/api/v1/cases/{case.reference}/replies/",
        {"body": body},
        content_type="application/json",
        headers=headers,
    )


def replies(case: Any) -> int:
    return Event.objects.filter(case=case, kind=EventKind.REPLY).count()


def test_a_retry_with_the_same_key_replies_once_and_gets_the_first_answer(
    client: Client, case: Any
) -> None:
    first = reply(client, case, "On it.", "3f1c-retry")
    again = reply(client, case, "On it.", "3f1c-retry")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert replies(case) == 1


def test_without_a_key_each_post_is_its_own_request(client: Client, case: Any) -> None:
    reply(client, case, "One.", None)
    reply(client, case, "One.", None)
    assert replies(case) == 2


def test_the_same_key_on_another_request_is_refused(client: Client, case: Any) -> None:
    reply(client, case, "On it.", "k1")
    refused = reply(client, case, "Something else.", "k1")
    assert refused.status_code == 422 and "another request" in refused.json()["detail"]
    assert replies(case) == 1


def test_a_refusal_is_replayed_too(client: Client, case: Any) -> None:
    assert "body" in fields(reply(client, case, "", "k2"))
    replayed = reply(client, case, "", "k2")
    assert replayed["Idempotent-Replayed"] == "true" and "body" in fields(replayed)


def test_a_request_still_running_gets_a_409(client: Client, case: Any) -> None:
    """The key's row is written before the work starts; a second request meets it."""
    path = f"/api/v1/cases/{case.reference}/replies/"
    raw = RequestFactory().post(path, b'{"body": "On it."}', content_type="application/json")
    IdempotentRequest.objects.create(
        token=ApiToken.objects.get(), key="k3", fingerprint=idempotency._fingerprint(Request(raw))
    )
    assert reply(client, case, "On it.", "k3").status_code == 409
    assert replies(case) == 0


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", "a\tb"])
def test_a_bad_key_is_a_400_that_says_what_a_key_is(client: Client, case: Any, key: str) -> None:
    assert "Idempotency-Key" in fields(reply(client, case, "On it.", key))
    assert replies(case) == 0


def test_keys_are_forgotten_after_a_day(client: Client, case: Any) -> None:
    with time_machine.travel("2026-12-01 10:00:00Z", tick=False):
        reply(client, case, "On it.", "k4")
    with time_machine.travel("2026-12-02 10:00:01Z", tick=False):
        assert idempotency.forget_old() == 1
    assert not IdempotentRequest.objects.exists()
    assert idempotency.KEPT == timedelta(days=1)
