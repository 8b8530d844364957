"""`casedesk oncall now`: who is on call now, until when, and who is next, per layer."""

from __future__ import annotations

import io
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def now_lines() -> list[str]:
    out = io.StringIO()
    call_command("oncall", "now", stdout=out)
    return out.getvalue().splitlines()


def test_it_names_who_is_on_call_until_when_and_who_comes_next(team: dict[str, Any]) -> None:
    from casedesk.oncall.models import LayerMember

    primary = team["pat"]
    LayerMember.objects.create(
        layer=LayerMember.objects.get(person=primary).layer, person=team["kim"], position=1
    )
    # Winter: the handoff at 09:00 America/Chicago is 15:00 UTC.
    with time_machine.travel("2026-12-08 12:00:00Z", tick=False):
        lines = now_lines()
    first = next(line for line in lines if line.startswith("Support / Primary"))
    assert "until Tue 08 Dec 09:00 CST; next kim@example.com until Wed 09 Dec 09:00 CST" in first


def test_a_layer_nobody_relieves_says_there_is_no_change_ahead(team: dict[str, Any]) -> None:
    with time_machine.travel("2026-07-08 12:00:00Z", tick=False):
        lines = now_lines()
    assert "Support / Secondary: kim@example.com; no change in the next 60 days" in lines
