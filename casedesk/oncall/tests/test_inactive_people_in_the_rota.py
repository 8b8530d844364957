"""A deactivated person leaves a gap in the rota; the others keep their shifts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from casedesk.accounts.models import User
from casedesk.oncall import schedules
from casedesk.oncall.models import Layer, LayerMember, Override

CT = ZoneInfo("America/Chicago")
DAY0 = datetime(2026, 12, 1, 12, 0, tzinfo=CT)  # noon: well inside each daily shift


def _three_person_primary(team):
    layer = Layer.objects.get(schedule=team["schedule"], position=0)
    layer.start_date, layer.handoff_time, layer.every_days = date(2026, 1, 1), time(9), 1
    layer.save()
    LayerMember.objects.filter(layer=layer).delete()
    cy = User.objects.create_user(
        "cy@example.com", "x" * 20, role="agent", full_name="Cy", phone="+15555550114"
    )
    for position, person in enumerate((team["pat"], team["kim"], cy)):
        LayerMember.objects.create(layer=layer, person=person, position=position)
    return layer, cy


def _week(layer) -> list[str]:
    return [
        schedules.on_call(layer, DAY0 + timedelta(days=d)).email  # type: ignore[union-attr]
        for d in range(6)
    ]


def test_a_deactivated_member_leaves_their_shifts_to_the_fallback_and_nobody_moves(team):
    layer, _ = _three_person_primary(team)
    before = _week(layer)
    kim = team["kim"]
    kim.is_active = False
    kim.save()
    after = _week(layer)
    avery = team["avery"].email
    assert after == [avery if who == kim.email else who for who in before]
    assert kim.email in before and after.count(avery) == before.count(kim.email)
    gaps = schedules.schedule_gaps(team["schedule"], DAY0, DAY0 + timedelta(days=6))
    assert gaps and all(g.person == team["avery"] for g in gaps if g.layer == layer)


def test_a_deactivated_persons_override_falls_through_to_the_rotation(team):
    layer, cy = _three_person_primary(team)
    regular = schedules.on_call(layer, DAY0)
    Override.objects.create(
        layer=layer, person=cy, start=DAY0 - timedelta(hours=1), end=DAY0 + timedelta(hours=1)
    )
    if regular != cy:
        assert schedules.on_call(layer, DAY0) == cy
    cy.is_active = False
    cy.save()
    assert schedules.on_call(layer, DAY0) == (regular if regular != cy else team["avery"])
    timeline = schedules.layer_timeline(layer, DAY0 - timedelta(minutes=30), DAY0)
    assert [slot.override for slot in timeline] == [False]
