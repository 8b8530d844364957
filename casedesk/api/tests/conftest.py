"""The on-call team of the oncall tests (Pat primary, Kim secondary, Avery the fallback),
and the Twilio stand-in its pages are sent to."""

from casedesk.oncall.tests.conftest import (  # noqa: F401 - fixtures
    oncall_defaults,
    standin,
    team,
)
