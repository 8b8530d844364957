"""Schemathesis sends generated requests to every operation of the schema, as a customer
and as an agent: no answer may be a server error or break the schema it documents."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casedesk.api import services
from casedesk.api.models import Scope
from casedesk.wsgi import application

pytestmark = pytest.mark.django_db

# What must hold for any request: no 5xx, and every answer as documented (status, type,
# body). Not "a schema-valid request is accepted": a valid reference may name no case.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Any:
    """The WSGI app closes the database connection after each request (as in production);
    Django's test client turns that off so a test's transaction survives; so does this."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=["customer", "agent"])
def token(request: Any, alice: Any, admin: Any, open_case: Any) -> str:
    person = alice if request.param == "customer" else admin
    open_case(alice, "Medium", subject="A case for the fuzzer")
    _row, token = services.create(
        services.NewToken(person, "fuzz", list(services.allowed_scopes(person)))
    )
    return token


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error_or_breaks_its_schema(case: Any, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_every_scope_is_documented() -> None:
    assert {s.value for s in Scope} >= {"cases:read", "cases:write"}
