"""Holidays to and from iCalendar (RFC 5545), with the icalendar package.

A holiday is a whole local day, so only all-day events (``DTSTART;VALUE=DATE``)
are holidays; an event spanning several days gives one holiday per day. Timed
events and recurring events are reported as skipped, with the reason, rather
than guessed at.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import icalendar

# A holiday file with more days than this is not a holiday list.
MAX_DAYS_PER_EVENT = 31
MAX_BYTES = 2 * 1024 * 1024


class IcsError(ValueError):
    """The file is not an iCalendar file casedesk can read."""


@dataclass
class ParsedHolidays:
    holidays: list[tuple[datetime.date, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def export_holidays(title: str, rows: Iterable[tuple[datetime.date, str]]) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//casedesk//holidays//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{title}: holidays")
    stamp = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    for day, name in rows:
        event = icalendar.Event()
        # Stable UIDs so calendar apps update an event instead of duplicating it.
        digest = hashlib.sha256(f"{title}|{day.isoformat()}".encode()).hexdigest()[:16]
        event.add("uid", f"{day.isoformat()}-{digest}@casedesk")
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + datetime.timedelta(days=1))
        event.add("summary", name)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())


def parse_holidays(data: bytes) -> ParsedHolidays:
    """Read all-day events from an .ics file as (date, name) pairs.

    Raises :class:`IcsError` when the bytes are not an iCalendar file.
    """
    if len(data) > MAX_BYTES:
        raise IcsError(f"the file is {len(data)} bytes; a holiday list is at most {MAX_BYTES}")
    if b"BEGIN:VCALENDAR" not in data[:4096].upper():
        raise IcsError("not an iCalendar file: it does not start with BEGIN:VCALENDAR")
    if b"END:VCALENDAR" not in data[-4096:].upper():
        raise IcsError("the file is cut short: it does not end with END:VCALENDAR")
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # the parser raises many kinds on malformed input
        raise IcsError(f"not a valid iCalendar file: {exc}") from None
    result = ParsedHolidays()
    for cal in calendars:
        for event in cal.walk("VEVENT"):
            try:
                _read_event(event, result)
            except Exception as exc:  # one unreadable event must not hide the others
                result.skipped.append(f"{_name(event)!r}: unreadable ({exc.__class__.__name__})")
    return result


def _name(event: icalendar.cal.Component) -> str:
    summary = event.get("summary", "")
    if isinstance(summary, list):  # SUMMARY given twice: take the first
        summary = summary[0] if summary else ""
    return str(summary).strip()[:200] or "Holiday"


def _read_event(event: icalendar.cal.Component, result: ParsedHolidays) -> None:
    """Add the days of one all-day event, or say in ``result.skipped`` why not.

    The end is DTEND (exclusive), or DTSTART + DURATION, or one day.
    """
    name = _name(event)
    label = f"{name!r}"
    start_prop = event.get("dtstart")
    if start_prop is None or isinstance(start_prop, list):
        result.skipped.append(f"{label}: no single start date")
        return
    start = start_prop.dt
    if isinstance(start, datetime.datetime) or not isinstance(start, datetime.date):
        result.skipped.append(f"{label}: a timed event, not a whole-day holiday")
        return
    if event.get("rrule") is not None or event.get("rdate") is not None:
        result.skipped.append(f"{label}: recurring events are not expanded; list each date")
        return
    end_prop, duration_prop = event.get("dtend"), event.get("duration")
    if end_prop is not None:
        end = end_prop.dt
    elif duration_prop is not None:
        duration = duration_prop.dt
        if (
            not isinstance(duration, datetime.timedelta)
            or duration.seconds
            or duration.microseconds
        ):
            result.skipped.append(f"{label}: its duration is not a number of whole days")
            return
        end = start + duration
    else:
        end = start + datetime.timedelta(days=1)
    if isinstance(end, datetime.datetime) or not isinstance(end, datetime.date) or end <= start:
        result.skipped.append(f"{label}: its end is not a date after its start")
        return
    days = (end - start).days
    if days > MAX_DAYS_PER_EVENT:
        result.skipped.append(f"{label}: spans {days} days (at most {MAX_DAYS_PER_EVENT})")
        return
    for offset in range(days):
        result.holidays.append((start + datetime.timedelta(days=offset), name))
