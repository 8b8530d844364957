"""Twilio's call statuses in order, so a late or repeated callback never moves a call back.

Twilio posts status callbacks over separate HTTP requests: they can arrive twice (a
retry) or out of order (``ringing`` after ``in-progress``). A status is taken only when
it is further along than the one held, and a terminal status (``completed``, ``busy``,
``failed``, ``no-answer``, ``canceled``) is final. Where Twilio numbers its callbacks
(``SequenceNumber``, present when ``statusCallbackEvent`` is used), one numbered at or
below the last taken is a repeat or an older message and is dropped too. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass

TERMINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, **dict.fromkeys(TERMINAL, 4)}
STATUSES = frozenset(RANK)


@dataclass(frozen=True)
class Progress:
    status: str
    sequence: int  # -1: no numbered callback taken yet


def advance(held: Progress, status: str, sequence: int | None) -> Progress | None:
    """The new progress if a callback saying ``status`` (numbered ``sequence``) moves the
    call forward, else None (a repeat, an older callback, or the call is already over)."""
    if status not in RANK:
        raise ValueError(f"unknown call status {status!r}")
    if held.status in TERMINAL:
        return None
    if sequence is not None and sequence <= held.sequence:
        return None
    if RANK[status] <= RANK.get(held.status, -1):
        return None
    return Progress(status, held.sequence if sequence is None else sequence)
