"""Personal API tokens: shown once, stored hashed, live until expired, revoked or their
owner deactivated, and never more powerful than their owner's role allows."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk.api import services
from casedesk.api.models import ApiToken

pytestmark = pytest.mark.django_db


def make(person: Any, scopes: list[str] | None = None, term: Any = services.DEFAULT_TERM):
    return services.create(services.NewToken(person, "CRM sync", scopes or ["cases:read"], term))


def test_a_token_is_stored_only_as_its_prefix_and_a_digest(agent):
    row, token = make(agent)
    assert services.TOKEN_RE.fullmatch(token)
    assert token.startswith(row.prefix + "_") and len(row.prefix) == 11
    stored = ApiToken.objects.get(pk=row.pk)
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored.__dict__)


def test_the_token_authenticates_as_its_owner_and_records_where_from(agent):
    row, token = make(agent)
    found = services.authenticate(token, ip="192.0.2.7")
    assert found is not None and found.person == agent
    row.refresh_from_db()
    assert row.last_used_from == "192.0.2.7" and row.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(agent):
    row, token = make(agent)
    with time_machine.travel("2026-12-01 10:00:00Z", tick=False):
        services.authenticate(token, ip="192.0.2.1")
    with time_machine.travel("2026-12-01 10:00:30Z", tick=False):
        services.authenticate(token, ip="192.0.2.2")
    row.refresh_from_db()
    assert (row.last_used_from, row.last_used_at.second) == ("192.0.2.1", 0)
    with time_machine.travel("2026-12-01 10:01:05Z", tick=False):
        services.authenticate(token, ip="192.0.2.3")
    row.refresh_from_db()
    assert row.last_used_from == "192.0.2.3"


def test_a_wrong_secret_with_a_real_prefix_is_refused(agent):
    _row, token = make(agent)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert services.authenticate(forged) is None


def test_an_expired_token_is_refused(agent):
    with time_machine.travel("2026-01-01 00:00:00Z", tick=False):
        _row, token = make(agent, term=timedelta(days=30))
    with time_machine.travel("2026-01-30 23:59:00Z", tick=False):
        assert services.authenticate(token) is not None
    with time_machine.travel("2026-01-31 00:00:01Z", tick=False):
        assert services.authenticate(token) is None


def test_a_revoked_token_is_refused_at_once_and_revoking_twice_is_harmless(agent, admin):
    row, token = make(agent)
    assert services.revoke(row, by=admin) is True
    assert services.revoke(row, by=admin) is False
    assert services.authenticate(token) is None
    row.refresh_from_db()
    assert row.revoked_by == admin


def test_deactivating_the_owner_ends_their_tokens_at_once(agent):
    _row, token = make(agent)
    agent.is_active = False
    agent.save()
    assert services.authenticate(token) is None


def test_a_token_that_never_expires_must_be_asked_for(agent):
    row, _token = make(agent, term=None)
    assert row.expires_at is None
    assert services.parse_term("never") is None
    assert services.parse_term("90d") == timedelta(days=90)
    for bad in ("", "5y", "0d", "367d", "-1d", "90 days", "9999w"):
        with pytest.raises(services.TokenError):
            services.parse_term(bad)


def test_a_customers_token_cannot_reach_beyond_the_portal(alice, agent, admin):
    assert set(services.allowed_scopes(alice)) == {"cases:read", "cases:write", "status:read"}
    with pytest.raises(services.TokenError, match="customer's token cannot have oncall:read"):
        make(alice, ["oncall:read"])
    with pytest.raises(services.TokenError, match="agent's token cannot have reports:read"):
        make(agent, ["reports:read"])
    row, _ = make(admin, ["reports:read", "cases:write"])
    assert row.scopes == ["cases:write", "reports:read"]


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", ["cases:read"], "name of 1 to 100"),
        ("x" * 101, ["cases:read"], "name of 1 to 100"),
        ("CRM\x00sync", ["cases:read"], "name of 1 to 100"),
        ("CRM", [], "at least one scope"),
        ("CRM", ["cases:delete"], "unknown scope 'cases:delete'"),
    ],
)
def test_a_bad_request_for_a_token_says_what_to_change(agent, name, scopes, message):
    with pytest.raises(services.TokenError, match=message):
        services.create(services.NewToken(agent, name, scopes))
    assert not ApiToken.objects.exists()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=120), st.from_regex(services.TOKEN_RE, fullmatch=True)))
def test_garbage_is_never_a_token(agent: Any, garbage: str) -> None:
    """Any text, and any well-formed token nobody made (the agent's token is real)."""
    if not ApiToken.objects.exists():
        make(agent)
    assert services.authenticate(garbage) is None


def test_a_deactivated_person_cannot_be_given_a_token(agent):
    agent.is_active = False
    agent.save()
    with pytest.raises(services.TokenError, match="cannot log in"):
        make(agent)


def test_expiry_is_counted_from_now(agent):
    before = timezone.now()
    row, _ = make(agent, term=timedelta(days=90))
    assert before + timedelta(days=90) <= row.expires_at <= timezone.now() + timedelta(days=90)
