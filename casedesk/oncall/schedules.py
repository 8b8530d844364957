"""Schedules read from the database into ``rotation`` arithmetic: who is on call when.

Issue 7's phone line asks :func:`responders` for the people to dial, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.oncall import rotation
from casedesk.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    Layer,
    Schedule,
    Target,
)


def rotation_of(layer: Layer) -> rotation.Rotation[int] | None:
    # Every member keeps their place, active or not: a deactivated member's shifts become
    # gaps (the fallback covers them) rather than shifting everyone after them.
    members = tuple(m.person_id for m in layer.members.all())
    return rotation.Rotation(
        zone=layer.schedule.zone,
        start=layer.start_date,
        handoff=layer.handoff_time,
        every_days=layer.every_days,
        participants=members,
        end=layer.ends_at,
    )


def overrides_of(layer: Layer, start: datetime, end: datetime) -> list[rotation.Override[int]]:
    """The layer's overrides in [start, end); a deactivated person's are left out, so the
    rotation shows through them."""
    return [
        rotation.Override(o.person_id, o.start, o.end)
        for o in layer.overrides.filter(
            start__lt=end, end__gt=start, person__is_active=True
        ).order_by("created_at", "pk")
    ]


def _people(ids: Iterable[int | None]) -> dict[int, User]:
    """The active people among ``ids`` (a deactivated one is a gap)."""
    wanted = {i for i in ids if i is not None}
    return {p.pk: p for p in User.objects.filter(pk__in=wanted, is_active=True)}


@dataclass(frozen=True)
class Slot:
    """A stretch of one layer: who is on call, and whether the fallback covers a gap."""

    layer: Layer
    person: User | None
    start: datetime
    end: datetime
    override: bool = False
    fallback: bool = False  # a gap in the layer, covered by the schedule's fallback person


def layer_timeline(layer: Layer, start: datetime, end: datetime) -> list[Slot]:
    pieces = rotation.timeline(rotation_of(layer), overrides_of(layer, start, end), start, end)
    people = _people(p.person for p in pieces)
    fallback = layer.schedule.fallback
    slots = []
    for piece in pieces:
        person = people.get(piece.person) if piece.person is not None else None
        slots.append(
            Slot(
                layer,
                person if person is not None else fallback,
                piece.start,
                piece.end,
                override=piece.override,
                fallback=person is None,
            )
        )
    return slots


def on_call(layer: Layer, at: datetime | None = None) -> User | None:
    """Who is on call in ``layer`` at ``at`` (the fallback person in a gap)."""
    at = at or timezone.now()
    person_id = rotation.on_call(
        rotation_of(layer), overrides_of(layer, at, at + timedelta(microseconds=1)), at
    )
    if person_id is not None:
        person = User.objects.filter(pk=person_id, is_active=True).first()
        if person is not None:
            return person
    return layer.schedule.fallback


def layers(schedule: Schedule) -> list[Layer]:
    return list(
        schedule.layers.select_related("schedule__fallback").prefetch_related("members__person")
    )


def step_targets(step: EscalationStep, at: datetime | None = None) -> list[User]:
    """The people one step notifies at ``at`` (none: an empty layer and no fallback)."""
    schedule = step.policy.schedule
    if step.target == Target.PERSON:
        people = [step.person] if step.person is not None else []
    elif step.target == Target.FALLBACK:
        people = [schedule.fallback] if schedule.fallback is not None else []
    else:
        layer = next((la for la in layers(schedule) if la.position == step.layer_position), None)
        person = on_call(layer, at) if layer is not None else schedule.fallback
        people = [person] if person is not None else []
    return [p for p in people if p.is_active]


def steps_of(policy: EscalationPolicy) -> list[EscalationStep]:
    return list(policy.steps.select_related("person", "policy__schedule__fallback"))


def responders(policy: EscalationPolicy, at: datetime | None = None) -> list[User]:
    """Everyone the policy would reach at ``at``, in escalation order, each once."""
    seen: dict[int, User] = {}
    for step in steps_of(policy):
        for person in step_targets(step, at):
            seen.setdefault(person.pk, person)
    return list(seen.values())


def default_policy() -> EscalationPolicy | None:
    return EscalationPolicy.objects.select_related("schedule").filter(is_default=True).first()


@dataclass(frozen=True)
class NowAndNext:
    layer: Layer
    now: Slot | None
    next: Slot | None


# How far ahead now_and_next looks for who comes next.
HORIZON_DAYS = 60


def now_and_next(schedule: Schedule, at: datetime | None = None) -> list[NowAndNext]:
    at = at or timezone.now()
    out = []
    for layer in layers(schedule):
        slots = layer_timeline(layer, at, at + timedelta(days=HORIZON_DAYS))
        out.append(
            NowAndNext(layer, slots[0] if slots else None, slots[1] if len(slots) > 1 else None)
        )
    return out


def schedule_gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Slot]:
    """Stretches in which a layer has nobody of its own (the fallback, if any, covers)."""
    return [
        slot
        for layer in layers(schedule)
        for slot in layer_timeline(layer, start, end)
        if slot.fallback
    ]
