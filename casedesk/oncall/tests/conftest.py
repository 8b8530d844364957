"""Fixtures of the on-call tests: the Twilio stand-in and an on-call team.

The team: Pat (primary), Kim (secondary), both agents, and Avery the admin as the
schedule's fallback (the support manager). 555 numbers only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
import time_machine

from casedesk.oncall.twilio_standin import TwilioStandIn

PAT_PHONE = "+15555550111"
KIM_PHONE = "+15555550112"
AVERY_PHONE = "+15555550113"


def at(instant: Any) -> time_machine.travel:
    """Frozen at ``instant`` (no ticking: task run_after times are exact)."""
    return time_machine.travel(instant, tick=False)


def bodies_to(standin: TwilioStandIn, number: str) -> list[str]:
    """The texts the Twilio stand-in was asked to send to ``number``, oldest first."""
    return [r.form["Body"] for r in standin.sent("Messages") if r.form["To"] == number]


@pytest.fixture
def standin(settings: Any) -> Iterator[TwilioStandIn]:
    """The real twilio client talks to this local stand-in of Twilio's API."""
    server = TwilioStandIn().start()
    settings.TWILIO_ACCOUNT_SID = server.account_sid
    settings.TWILIO_AUTH_TOKEN = server.auth_token
    settings.TWILIO_FROM_NUMBER = "+15555550199"
    settings.TWILIO_API_BASE = server.base_url
    settings.BASE_URL = "https://desk.example.com"
    yield server
    server.stop()


@pytest.fixture
def oncall_defaults(django_db_blocker: Any) -> None:
    """The schedule and policy the migrations seed (re-seeded for transactional tests)."""
    from casedesk.oncall.defaults import ensure_oncall

    with django_db_blocker.unblock():
        ensure_oncall()


def _staff(email: str, role: str, name: str, phone: str) -> Any:
    from casedesk.accounts.models import User

    return User.objects.create_user(email, "x" * 20, role=role, full_name=name, phone=phone)


@pytest.fixture
def team(db: None, oncall_defaults: None, admin: Any) -> dict[str, Any]:
    """Pat primary and Kim secondary for ever (daily layers from 2026-01-01, one member
    each), Avery (the admin) the fallback."""
    from casedesk.oncall.models import Layer, LayerMember, Schedule

    pat = _staff("pat@example.com", "agent", "Pat Primary", PAT_PHONE)
    kim = _staff("kim@example.com", "agent", "Kim Secondary", KIM_PHONE)
    admin.phone = AVERY_PHONE
    admin.save()
    schedule = Schedule.objects.get(name="Support")
    schedule.fallback = admin
    schedule.save()
    for position, person in ((0, pat), (1, kim)):
        layer = Layer.objects.get(schedule=schedule, position=position)
        layer.start_date, layer.handoff_time, layer.every_days = date(2026, 1, 1), time(9), 1
        layer.save()
        LayerMember.objects.create(layer=layer, person=person)
    return {"pat": pat, "kim": kim, "avery": admin, "schedule": schedule}


@pytest.fixture
def sms_only(team: dict[str, Any]) -> dict[str, Any]:
    """The team, each of them paged by SMS only (one text per step: easy to count)."""
    from datetime import timedelta

    from casedesk.oncall.models import NotificationRule

    for person in (team["pat"], team["kim"], team["avery"]):
        NotificationRule.objects.create(person=person, channel="sms", delay=timedelta(0))
    return team
