"""Durations and rates in words, for pages and mails: "90 minutes", "3 per hour".

Pure Python, like the rest of ``casedesk.lib``.
"""

from __future__ import annotations

from datetime import timedelta

from casedesk.lib.env import Rate

# Largest first. Weeks and months are left out: "14 days" is exact, "2 weeks" reads as a guess.
_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def humanize_duration(duration: timedelta) -> str:
    """A duration in words: "1 hour", "90 minutes", "2 hours 30 minutes", "1 day".

    1. Take whole seconds (fractions are dropped; negative durations are refused).
    2. Start at the largest unit that fits. If exactly one of it fits and
       something is left over, start one unit smaller: people say "90 minutes"
       and "36 hours", not "1 hour 30 minutes" or "1 day 12 hours".
    3. Write every non-zero unit from there down.
    """
    seconds = duration // timedelta(seconds=1)
    if seconds < 0:
        raise ValueError(f"a duration to describe cannot be negative: {duration}")
    if seconds == 0:
        return "0 seconds"
    start = next(i for i, (_, size) in enumerate(_UNITS) if seconds >= size)
    size = _UNITS[start][1]
    if seconds // size == 1 and seconds % size and start + 1 < len(_UNITS):
        start += 1
    parts = []
    for unit, size in _UNITS[start:]:
        number, seconds = divmod(seconds, size)
        if number:
            parts.append(_count(number, unit))
    return " ".join(parts)


def describe_rate(rate: Rate) -> str:
    """A rate in words: "3 per hour", "3 every 2 hours", "20 every 90 minutes"."""
    period = humanize_duration(rate.period)
    number, _, unit = period.partition(" ")
    if number == "1" and " " not in unit:
        return f"{rate.limit} per {unit}"
    return f"{rate.limit} every {period}"
