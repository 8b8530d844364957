"""The emergency line's part of `casedesk demo`: a few finished calls in the desk's call
log (Acme, Globex and an unknown number), one of them already marked non-emergency, so the
call log, a call page, the organization pages and the fee report have something to show.

Rows as the call flow leaves them (no Twilio account needed); once, on an empty log.
555 numbers and example.com addresses only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from casedesk.accounts.models import Organization, User
from casedesk.phone import fees
from casedesk.phone.models import Call, CallOutcome, Leg, LegOutcome

EMERGENCY_NUMBER = "+15555550100"


@dataclass(frozen=True)
class DemoCall:
    organization: str | None
    caller: str | None
    number: str
    hours_ago: int
    outcome: str
    legs: tuple[tuple[str, str, int | None], ...]  # (engineer, outcome, seconds)
    non_emergency: str = ""  # an agent's reason, when the demo marks it


DEMO_CALLS = [
    DemoCall(
        "Acme",
        "alice@acme.example",
        "+15555550101",
        5,
        CallOutcome.CONNECTED,
        (
            ("agent@example.com", LegOutcome.NO_ANSWER, 25),
            ("agent2@example.com", LegOutcome.ACCEPTED, 540),
        ),
    ),
    DemoCall(
        "Acme",
        "alice@acme.example",
        "+15555550101",
        30,
        CallOutcome.CONNECTED,
        (("agent@example.com", LegOutcome.ACCEPTED, 180),),
        non_emergency="Asked how to reset a colleague's password; no outage.",
    ),
    DemoCall(
        "Globex",
        "bob@globex.example",
        "+15555550102",
        52,
        CallOutcome.VOICEMAIL,
        (
            ("agent@example.com", LegOutcome.REFUSED, 12),
            ("agent2@example.com", LegOutcome.NO_ANSWER, 25),
            ("admin@example.com", LegOutcome.MACHINE, 8),
        ),
    ),
    DemoCall(None, None, "+15555550177", 75, CallOutcome.UNIDENTIFIED, ()),
]


@transaction.atomic
def ensure_demo_calls() -> list[str]:
    if Call.objects.exists():
        return []
    people = {p.email: p for p in User.objects.all()}
    agent = people.get("agent@example.com")
    organizations = {o.name: o for o in Organization.objects.all()}
    now = timezone.now()
    made = 0
    for i, spec in enumerate(DEMO_CALLS, start=1):
        started = now - timedelta(hours=spec.hours_ago)
        answered = next((e for e, outcome, _ in spec.legs if outcome == LegOutcome.ACCEPTED), None)
        caller = people.get(spec.caller or "")
        if caller is not None and caller.phone != spec.number:
            caller = None  # an admin changed the demo person's number: the line would not know them
        call = Call.objects.create(
            sid=f"CAdemo{i:026x}",
            from_number=spec.number,
            to_number=EMERGENCY_NUMBER,
            organization=organizations.get(spec.organization or ""),
            caller=caller,
            started_at=started,
            ended_at=started + timedelta(minutes=11),
            duration_seconds=660,
            status="completed",
            outcome=spec.outcome,
            answered_by=people.get(answered or ""),
            recording_url=(
                f"https://recordings.example.com/demo/{i}.mp3"
                if spec.outcome == CallOutcome.VOICEMAIL
                else ""
            ),
            recording_seconds=48 if spec.outcome == CallOutcome.VOICEMAIL else None,
        )
        at = started + timedelta(seconds=15)
        answered_at = None
        for position, (email, outcome, seconds) in enumerate(spec.legs, start=1):
            engineer = people.get(email)
            Leg.objects.create(
                call=call,
                position=position,
                person=engineer,
                number=(engineer.phone if engineer else "") or "+15555550111",
                outcome=outcome,
                status="completed",
                started_at=at,
                answered_at=at + timedelta(seconds=10) if outcome == LegOutcome.ACCEPTED else None,
                ended_at=at + timedelta(seconds=seconds or 0),
                duration_seconds=seconds,
            )
            if outcome == LegOutcome.ACCEPTED:
                answered_at = at + timedelta(seconds=10)
            at += timedelta(seconds=(seconds or 0) + 5)
        if answered_at is not None:
            call.answered_at = answered_at  # when the engineer accepted: the caller connected
            call.save(update_fields=["answered_at"])
        if spec.non_emergency and agent is not None and call.organization is not None:
            fees.mark_non_emergency(call, agent, spec.non_emergency)
        made += 1
    return [f"{made} emergency calls in the call log"]
