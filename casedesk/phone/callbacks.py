"""What Twilio reports after the fact: call and leg statuses, and finished recordings.

Callbacks arrive on their own schedule, twice or out of order; ``progress`` keeps each
call and leg moving forward only, and the call's end (its first terminal status) writes
its summary on the case once. A finished recording is noted on the case once, and
``recordings.fetch_recording`` copies it into the case's files (Twilio's media URL needs
the account's credentials, so it never goes on the timeline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from casedesk.cases import services as case_services
from casedesk.cases.models import EventKind
from casedesk.phone import progress, recordings, speech
from casedesk.phone.flow import Recording, locked
from casedesk.phone.models import Call, CallOutcome, Leg, LegOutcome, Stage

logger = logging.getLogger("casedesk.phone")


@transaction.atomic
def recording_ready(data: Recording) -> bool:
    """The recording status callback: the message is noted on the case and fetched, once."""
    call = locked(data.call_sid)
    if call is None or data.status != "completed":
        return False
    if call.recording_sid == data.recording_sid:
        return False  # told twice
    call.recording_sid = data.recording_sid
    call.recording_url = data.url
    call.recording_seconds = data.seconds
    if call.outcome in (CallOutcome.IN_PROGRESS, CallOutcome.NO_MESSAGE):
        call.outcome = CallOutcome.VOICEMAIL
    call.save()
    if call.case is not None:
        case_services.record_event(
            call.case,
            EventKind.CALL,
            f"Voicemail from {call.from_number or 'an unknown number'} "
            f"({speech.duration(data.seconds)}), recording {data.recording_sid}: it is "
            "copied into the case's files.",
        )
        # Queued in this transaction (the task table is in the same database), so the
        # fetch commits with the recording's note or not at all.
        recordings.fetch_recording.enqueue(call.pk)
    return True


@dataclass(frozen=True)
class StatusReport:
    call_sid: str
    status: str
    sequence: int | None
    duration: int | None
    at: datetime
    parent_sid: str = ""
    to_number: str = ""


@transaction.atomic
def call_status(data: StatusReport) -> bool:
    """The caller's leg: its status and duration; at its end, the call's summary on the
    case. Returns whether anything changed."""
    call = locked(data.call_sid)
    if call is None:
        logger.warning("phone: status for unknown call %s", data.call_sid[:64])
        return False
    moved = progress.advance(
        progress.Progress(call.status, call.status_sequence), data.status, data.sequence
    )
    if moved is None:
        return False
    call.status, call.status_sequence = moved.status, moved.sequence
    if moved.status not in progress.TERMINAL:
        call.save()
        return True
    call.ended_at = data.at
    call.duration_seconds = data.duration
    call.stage = Stage.DONE
    legs = list(call.legs.select_related("person"))
    for leg in legs:
        if leg.outcome == LegOutcome.RINGING:
            leg.outcome = LegOutcome.CANCELED  # the caller hung up while it rang
            leg.ended_at = leg.ended_at or data.at
            # Only these two: the leg's own status callback may be writing the rest.
            leg.save(update_fields=["outcome", "ended_at"])
    if call.outcome == CallOutcome.IN_PROGRESS:
        call.outcome = (
            CallOutcome.VOICEMAIL
            if call.recording_sid
            else CallOutcome.NO_MESSAGE
            if legs
            else CallOutcome.UNIDENTIFIED
            if call.organization is None and call.account_attempts
            else CallOutcome.MENU
            if call.organization is None
            else CallOutcome.NO_MESSAGE
        )
    call.save()
    if call.case is not None:
        case_services.record_event(call.case, EventKind.CALL, summary(call, legs), at=data.at)
    return True


def summary(call: Call, legs: list[Leg]) -> str:
    lines = [
        f"Call from {call.from_number or 'an unknown number'} ended after "
        f"{speech.duration(call.duration_seconds)}: {call.get_outcome_display().lower()}"
        + (
            f" ({call.answered_by.full_name or call.answered_by.email})."
            if call.answered_by
            else "."
        )
    ]
    for leg in legs:
        who = leg.person.full_name or leg.person.email if leg.person else leg.number
        took = f", {speech.duration(leg.duration_seconds)}" if leg.duration_seconds else ""
        lines.append(f"{leg.position}. {who} ({leg.number}): {leg.get_outcome_display()}{took}")
    return "\n".join(lines)


@transaction.atomic
def leg_status(data: StatusReport) -> bool:
    """An engineer's leg (the Number's status callback)."""
    leg = Leg.objects.select_for_update().filter(sid=data.call_sid).first()
    if leg is None and data.parent_sid:
        # Before the whisper named it: the newest unnamed leg of the call to that number.
        leg = (
            Leg.objects.select_for_update()
            .filter(call__sid=data.parent_sid, sid__isnull=True, number=data.to_number)
            .order_by("-position")
            .first()
        )
        if leg is not None:
            leg.sid = data.call_sid
    if leg is None:
        logger.warning("phone: status for unknown leg %s", data.call_sid[:64])
        return False
    moved = progress.advance(
        progress.Progress(leg.status or "queued", leg.status_sequence), data.status, data.sequence
    )
    if moved is None:
        if leg.sid == data.call_sid:
            leg.save(update_fields=["sid"])
        return False
    leg.status, leg.status_sequence = moved.status, moved.sequence
    if moved.status == "in-progress":
        leg.answered_at = leg.answered_at or data.at
    if moved.status in progress.TERMINAL:
        leg.ended_at = data.at
        if data.duration is not None:
            leg.duration_seconds = data.duration
    # Not the outcome: the flow decides that (accepted, refused, machine).
    leg.save(
        update_fields=[
            "sid",
            "status",
            "status_sequence",
            "answered_at",
            "ended_at",
            "duration_seconds",
        ]
    )
    return True
