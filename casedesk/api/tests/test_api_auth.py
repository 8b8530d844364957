"""The API answers only a live token in ``Authorization: Bearer``; scopes gate each area."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from casedesk.api import services
from casedesk.api.auth import BearerToken, TokenScope

pytestmark = pytest.mark.django_db


def token_for(person: Any, scopes: list[str] | None = None) -> str:
    _row, token = services.create(services.NewToken(person, "test", scopes or ["cases:read"]))
    return token


def test_me_says_who_the_token_acts_as(client: Client, alice: Any) -> None:
    token = token_for(alice)
    response = client.get("/api/v1/me/", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert (body["email"], body["role"], body["organization"]) == (
        "alice@acme.example",
        "customer",
        "Acme",
    )
    assert body["token"]["prefix"] == token[:11] and body["token"]["scopes"] == ["cases:read"]
    assert token not in response.content.decode()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer",
        "Bearer a b",
        "Bearer cd_00000000_" + "A" * 43,
        "Bearer \u00e9t\u00e9",
        "Token cd_00000000_" + "A" * 43,
    ],
)
def test_no_or_bad_credentials_get_a_401_that_says_how(client: Client, header: str | None) -> None:
    headers = {"authorization": header} if header is not None else {}
    response = client.get("/api/v1/me/", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="casedesk"'
    assert response.json()["detail"]


def test_a_session_cookie_is_not_enough(client: Client, agent: Any) -> None:
    """A logged-in browser cannot be made to call the API by another site's page."""
    client.force_login(agent)
    assert client.get("/api/v1/me/").status_code == 401


def test_a_revoked_token_gets_a_401_at_once(client: Client, agent: Any) -> None:
    token = token_for(agent)
    services.revoke(services.authenticate(token), by=agent)  # type: ignore[arg-type]
    response = client.get("/api/v1/me/", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


class _Cases(APIView):
    scope_area = "cases"


def _allowed(token: str, method: str) -> bool:
    request = APIRequestFactory().generic(method, "/", HTTP_AUTHORIZATION=f"Bearer {token}")
    view = _Cases()
    drf_request = view.initialize_request(request)
    person, row = BearerToken().authenticate(drf_request)  # type: ignore[misc]
    drf_request.user, drf_request.auth = person, row
    return TokenScope().has_permission(drf_request, view)


def test_reading_needs_the_read_scope_and_changing_the_write_scope(agent: Any) -> None:
    reader = token_for(agent, ["cases:read"])
    writer = token_for(agent, ["cases:write"])
    assert _allowed(reader, "GET") and _allowed(reader, "HEAD")
    assert not _allowed(reader, "POST") and not _allowed(reader, "PATCH")
    assert _allowed(writer, "POST") and not _allowed(writer, "GET")
    other = token_for(agent, ["status:read"])
    assert not _allowed(other, "GET")


def test_the_schema_is_openapi_3_1_and_names_the_bearer_scheme(client: Client) -> None:
    response = client.get("/api/v1/schema/", headers={"accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/v1/me/" in schema["paths"]


def test_the_reference_page_loads_its_scripts_from_our_own_static_files(client: Client) -> None:
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page


def test_the_schema_is_valid_and_complete(tmp_path: Any) -> None:
    """drf-spectacular validates it against the OpenAPI schema and warns of nothing (an
    endpoint it cannot describe, an authentication it does not know)."""
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "bearer" in out.read_text()
