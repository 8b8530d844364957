"""Fixtures of the emergency line's tests: a signed Twilio caller, Acme's number, the team.

The on-call team (Pat, Kim, Avery) and the Twilio stand-in come from the on-call tests.
555 numbers only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from casedesk.oncall.tests import conftest as _oncall_fixtures
from casedesk.oncall.tests.conftest import (
    AVERY_PHONE as AVERY_PHONE,
)
from casedesk.oncall.tests.conftest import (
    KIM_PHONE as KIM_PHONE,
)
from casedesk.oncall.tests.conftest import (
    PAT_PHONE as PAT_PHONE,
)
from casedesk.oncall.tests.conftest import (
    at as at,
)
from casedesk.oncall.tests.conftest import (
    oncall_defaults as oncall_defaults,
)
from casedesk.oncall.tests.conftest import (
    standin as standin,
)

BASE = "https://desk.example.com"
TOKEN = "phone-test-auth-token"
ACME_PHONE = "+15555550101"
ALICE_PHONE = "+15555550131"
LINE = "+15555550100"
STRANGER = "+15555550177"


def case_of(call: Any) -> Any:
    """The case a call opened or joined (it must have one)."""
    assert call.case is not None, call
    return call.case


def sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


def signed(client: Client, path: str, params: dict[str, str], token: str = TOKEN) -> Any:
    """POST as Twilio would: form-encoded, signed over the public URL."""
    signature = RequestValidator(token).compute_signature(BASE + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@dataclass
class Caller:
    """One call to the line, driven step by step as Twilio would post it."""

    client: Client
    from_number: str = ACME_PHONE
    sid: str = field(default_factory=sid)
    sequence: int = 0

    def post(self, path: str, **params: str) -> str:
        response = signed(
            self.client, path, {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, **params}
        )
        assert response.status_code == 200, response.content
        return str(response.content.decode())

    def ring(self) -> str:
        return self.post(
            "/phone/voice",
            From=self.from_number,
            To=LINE,
            CallStatus="ringing",
            Direction="inbound",
        )

    def press(self, digits: str, path: str = "/phone/voice/menu") -> str:
        return self.post(path, Digits=digits)

    def dialed(self, status: str, leg: str = "", seconds: str = "") -> str:
        params = {"DialCallStatus": status}
        if leg:
            params["DialCallSid"] = leg
        if seconds:
            params["DialCallDuration"] = seconds
        return self.post("/phone/voice/dialed", **params)

    def engineer(self, path: str, leg: str, **params: str) -> str:
        response = signed(self.client, path, {"CallSid": leg, "ParentCallSid": self.sid, **params})
        assert response.status_code == 200, response.content
        return str(response.content.decode())

    def status(self, status: str, **params: str) -> str:
        return self.post("/phone/voice/status", CallStatus=status, **params)


team = _oncall_fixtures.team  # the on-call team fixture, shared


@pytest.fixture
def line(
    settings: Any, team: dict[str, Any], alice: Any, priorities: Any, calendars: None, tmp_path: Any
) -> dict[str, Any]:
    """Acme calls from its NOC number; Pat, Kim and Avery are on call, in that order."""
    from casedesk.accounts.models import OrganizationPhone

    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.BASE_URL = BASE
    settings.MEDIA_ROOT = tmp_path / "files"
    OrganizationPhone.objects.create(
        organization=alice.organization, number=ACME_PHONE, label="NOC"
    )
    return {**team, "alice": alice, "acme": alice.organization}


@pytest.fixture
def caller(line: dict[str, Any]) -> Caller:
    return Caller(Client())
