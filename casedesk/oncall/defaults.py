"""The schedule and escalation policy casedesk ships with (issue 6's default).

A "Support" schedule in the support calendar's zone with a primary and a secondary
weekly layer (hand-off Monday 09:00), and the "Default" policy: the primary at
once; after 15 minutes without an acknowledgement the secondary; after another 15
minutes the support manager (the schedule's fallback person); the whole chain
repeated twice. Layers start empty: admins add the people (the demo does).
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

SCHEDULE_NAME = "Support"
POLICY_NAME = "Default"
# A Monday, so weekly layers hand off on Mondays.
FIRST_HANDOFF = date(2026, 1, 5)
HANDOFF_TIME = time(9, 0)
STEP_DELAY = timedelta(minutes=15)


def seed_oncall(
    schedule_model: Any, layer_model: Any, policy_model: Any, step_model: Any
) -> list[str]:
    """Create what is missing (works on migration models too); return what was created."""
    created: list[str] = []
    schedule, made = schedule_model.objects.get_or_create(
        name=SCHEDULE_NAME, defaults={"time_zone": "America/Chicago"}
    )
    if made:
        created.append(f"schedule {SCHEDULE_NAME}")
        for position, name in enumerate(["Primary", "Secondary"]):
            layer_model.objects.create(
                schedule=schedule,
                name=name,
                position=position,
                start_date=FIRST_HANDOFF,
                handoff_time=HANDOFF_TIME,
                every_days=7,
            )
    if not policy_model.objects.filter(name=POLICY_NAME).exists():
        policy = policy_model.objects.create(
            name=POLICY_NAME,
            schedule=schedule,
            repeat=2,
            is_default=not policy_model.objects.filter(is_default=True).exists(),
        )
        step_model.objects.create(
            policy=policy, position=0, target="layer", layer_position=0, delay=STEP_DELAY
        )
        step_model.objects.create(
            policy=policy, position=1, target="layer", layer_position=1, delay=STEP_DELAY
        )
        step_model.objects.create(policy=policy, position=2, target="fallback", delay=STEP_DELAY)
        created.append(f"escalation policy {POLICY_NAME}")
    return created


def ensure_oncall() -> list[str]:
    from casedesk.oncall.models import EscalationPolicy, EscalationStep, Layer, Schedule

    return seed_oncall(Schedule, Layer, EscalationPolicy, EscalationStep)
