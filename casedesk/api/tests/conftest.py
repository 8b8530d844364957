"""The on-call team of the oncall tests (Pat primary, Kim secondary, Avery the fallback),
and the Twilio stand-in its pages are sent to."""

from typing import Any

from casedesk.oncall.tests.conftest import (  # noqa: F401 - fixtures
    oncall_defaults,
    standin,
    team,
)
from casedesk.status.tests.conftest import components  # noqa: F401 - fixture


def fields(response: Any) -> dict[str, list[str]]:
    """A 400 problem document's messages by field ("" for the request as a whole)."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["detail"])
    return found
