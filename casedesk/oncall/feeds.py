"""On-call shifts as iCalendar (RFC 5545) feeds: one per schedule, one per person.

A feed covers a week back and eight weeks ahead; calendar apps poll it. Times are
written in UTC (every calendar app shows them in its own zone).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import icalendar
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.oncall import schedules
from casedesk.oncall.models import Schedule

FEED_BACK = timedelta(days=7)
FEED_AHEAD = timedelta(weeks=8)


def _calendar(title: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//casedesk//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", title)
    return cal


def _event(slot: schedules.Slot, stamp: datetime) -> icalendar.Event:
    person = slot.person
    who = (person.full_name or person.email) if person else "nobody (gap)"
    summary = f"On call ({slot.layer.name}): {who}"
    if slot.fallback:
        summary += " [fallback: gap in the rotation]"
    elif slot.override:
        summary += " [override]"
    key = f"{slot.layer.pk}:{slot.start.isoformat()}:{person.pk if person else 0}"
    event = icalendar.Event()
    event.add("uid", hashlib.sha256(key.encode()).hexdigest()[:32] + "@casedesk")
    event.add("dtstamp", stamp)
    event.add("dtstart", slot.start)
    event.add("dtend", slot.end)
    event.add("summary", summary)
    event.add("description", f"Schedule {slot.layer.schedule.name}, layer {slot.layer.name}.")
    return event


def _window() -> tuple[datetime, datetime, datetime]:
    now = timezone.now()
    return now, now - FEED_BACK, now + FEED_AHEAD


def schedule_calendar(schedule: Schedule) -> bytes:
    now, start, end = _window()
    cal = _calendar(f"On call: {schedule.name}")
    for layer in schedules.layers(schedule):
        for slot in schedules.layer_timeline(layer, start, end):
            cal.add_component(_event(slot, now))
    return bytes(cal.to_ical())


def person_calendar(person: User) -> bytes:
    now, start, end = _window()
    cal = _calendar(f"On call: {person.full_name or person.email}")
    for schedule in Schedule.objects.select_related("fallback"):
        for layer in schedules.layers(schedule):
            for slot in schedules.layer_timeline(layer, start, end):
                if slot.person is not None and slot.person.pk == person.pk:
                    cal.add_component(_event(slot, now))
    return bytes(cal.to_ical())
