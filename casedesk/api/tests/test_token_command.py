"""`casedesk tokens create|list|revoke`."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from casedesk.api import services
from casedesk.api.models import ApiToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("tokens", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_token_once_on_stdout_and_what_it_is_on_stderr(agent: Any) -> None:
    out, err = run("create", "--user", "AGENT@example.com", "--scopes", "cases:read,cases:write")
    token = out.strip()
    assert services.authenticate(token).person == agent  # type: ignore[union-attr]
    assert "cases:read, cases:write" in err and "shown only now" in err and token not in err
    row = ApiToken.objects.get()
    assert row.expires_at is not None  # 90 days by default


def test_create_defaults_to_the_read_scopes_the_person_may_have(alice: Any) -> None:
    run("create", "--user", alice.email, "--expires", "never")
    row = ApiToken.objects.get()
    assert row.scopes == ["cases:read", "status:read"] and row.expires_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody@example.com"], "no person has the address"),
        (["--user", "alice@acme.example", "--scopes", "oncall:read"], "cannot have oncall:read"),
        (["--user", "alice@acme.example", "--expires", "forever"], "90d, 12h, 8w or never"),
    ],
)
def test_create_refuses_with_a_reason(alice: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("create", *args)
    assert not ApiToken.objects.exists()


def test_list_and_revoke_by_prefix(agent: Any) -> None:
    row, token = services.create(services.NewToken(agent, "CRM sync", ["cases:read"]))
    listed, _ = run("list", "--user", agent.email)
    assert row.prefix in listed and "live" in listed and token not in listed
    out, _ = run("revoke", row.prefix)
    assert f"revoked {row.prefix}" in out
    assert services.authenticate(token) is None
    assert "already revoked" in run("revoke", row.prefix)[0]
    with pytest.raises(CommandError, match="no token starts with"):
        run("revoke", "cd_0000")
