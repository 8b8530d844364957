"""Chat is open only in support hours and while an agent is available; otherwise the widget
is in offline mode and leads to the three ways of opening a critical case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from casedesk.chat import services
from casedesk.chat.tests.conftest import CT, SATURDAY_10AM, WEDNESDAY_10AM, logged_in

pytestmark = pytest.mark.usefixtures("chat_db")


def _widget(client: Client) -> str:
    response = client.get("/chat/widget/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return response.content.decode()


def test_after_hours_the_widget_is_offline_with_the_critical_options_and_when_chat_reopens(
    alice: Any, agent: Any
) -> None:
    with time_machine.travel(SATURDAY_10AM, tick=False):
        customer_client = logged_in(alice)
        services.heartbeat(agent, available=True)  # an agent online does not open chat at night
        page = _widget(customer_client)
        response = customer_client.post("/chat/start")
    assert 'data-state="offline"' in page
    assert "we are outside support hours" in page
    assert "Chat reopens" in page and "Monday 30 November, 07:00 CST" in page
    assert 'href="/portal/new/"' in page and "Critical" in page
    assert "mailto:support@example.com?subject=Critical:%20" in page
    assert 'href="tel:+15555550100"' in page
    assert 'data-testid="chat-leave-form"' in page
    assert "we answer when support opens" in page
    assert response.status_code == 409
    assert "closed" in response.json()["error"]


def test_in_hours_without_an_available_agent_the_widget_is_offline(alice: Any, agent: Any) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        page = _widget(logged_in(alice))
        assert "no agent is free at the moment" in page
        assert "Chat reopens" not in page  # hours are open; only an agent coming back opens it
        # Support is open: a message left now is not kept until "support opens".
        assert "when support opens" not in page
        assert "an agent answers it as soon as one is free" in page
        services.heartbeat(agent, available=False)
        assert not services.availability().open


def test_an_agent_counts_only_while_their_heartbeat_is_fresh(agent: Any, settings: Any) -> None:
    settings.CHAT_PRESENCE_TIMEOUT = timedelta(seconds=60)
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        assert services.availability().open
    with time_machine.travel(WEDNESDAY_10AM + timedelta(seconds=59), tick=False):
        assert services.availability().open
    with time_machine.travel(WEDNESDAY_10AM + timedelta(seconds=61), tick=False):
        assert not services.availability().open  # the laptop was closed
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        agent.is_active = False  # left the company with the console open
        agent.save()
        assert not services.agents_available()


def test_in_hours_with_an_agent_the_widget_offers_a_chat_and_anonymous_visitors_a_log_in(
    alice: Any, agent: Any
) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        page = _widget(logged_in(alice))
        assert 'data-state="open"' in page and 'data-testid="chat-start"' in page
        anonymous = _widget(Client())
        assert "Log in to chat" in anonymous and 'data-testid="chat-start"' not in anonymous


def test_chat_reopening_is_shown_in_the_calendar_zone_across_the_end_of_dst(
    alice: Any,
) -> None:
    # Saturday 31 October 2026 is still daylight time in Chicago; chat reopens on
    # Monday 2 November at 07:00, after the clocks went back (CST, UTC-6).
    with time_machine.travel(datetime(2026, 10, 31, 12, 0, tzinfo=CT), tick=False):
        state = services.availability()
        page = _widget(logged_in(alice))
    assert state.reopens_at == datetime(2026, 11, 2, 13, 0, tzinfo=ZoneInfo("UTC"))
    assert "Monday 2 November, 07:00 CST" in page


def test_staff_are_never_offered_to_start_a_chat_as_a_customer(agent: Any) -> None:
    with time_machine.travel(WEDNESDAY_10AM, tick=False):
        services.heartbeat(agent, available=True)
        with pytest.raises(services.ChatError):
            services.start(agent)


# The agent's heartbeat is re-sent at each instant, so the shared fixture is safe.
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_chat_is_open_exactly_when_support_is_open_and_an_agent_is_fresh(
    agent: Any, moment: datetime
) -> None:
    instant = moment.replace(tzinfo=ZoneInfo("UTC"))
    with time_machine.travel(instant, tick=False):
        services.heartbeat(agent, available=True)
        state = services.availability()
        local = instant.astimezone(CT)
        in_hours = local.weekday() < 5 and 7 <= local.hour < 19
        # Holidays close support too: open implies a weekday inside the hours.
        assert state.open == state.hours.open
        if state.open:
            assert in_hours
        else:
            assert state.reopens_at is None or state.reopens_at > instant
