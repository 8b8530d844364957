"""``cases.services.call_connected``: a connected call stops the response clock as a public
reply does, and the on-call clock alarms count it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casedesk.cases import services
from casedesk.cases.models import EventKind, Status
from casedesk.oncall.services import case_answered
from casedesk.phone.tests.conftest import at


def test_a_connected_call_stops_the_first_response_clock(open_case, alice, agent):
    with at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC)):
        case = open_case(alice, "Critical", channel="phone")
        assert not case_answered(case)
    connected = datetime(2026, 11, 29, 4, 20, tzinfo=UTC)
    with at(connected):
        event = services.call_connected(case, agent, "Sam took the call.")
    case.refresh_from_db()
    assert (event.kind, event.public, event.author) == (EventKind.CALL, True, agent)
    assert case.first_responded_at == connected and case.status == Status.OPEN
    assert case_answered(case)


def test_a_case_raised_to_critical_at_night_counts_a_call_after_the_raise(
    open_case, alice, agent, priorities
):
    """Answered in hours, raised at night: only a response after the raise stops the clock."""
    with at(datetime(2026, 12, 1, 16, 0, tzinfo=UTC)):  # Tuesday 10:00 Central
        case = open_case(alice, "High")
        services.add_reply(case, agent, "Looking.")
    with at(datetime(2026, 12, 2, 4, 0, tzinfo=UTC)):  # Tuesday 22:00 Central
        services.change_priority(case, priorities["Critical"], agent, "Production is down.")
        case.refresh_from_db()
        assert not case_answered(case)
    with at(datetime(2026, 12, 2, 4, 0, tzinfo=UTC) + timedelta(minutes=10)):
        services.call_connected(case, agent, "Sam took the call.")
        case.refresh_from_db()
        assert case_answered(case)


def test_only_staff_connect_calls(open_case, alice):
    case = open_case(alice, "Critical")
    with pytest.raises(services.CaseError):
        services.call_connected(case, alice, "I called myself.")
