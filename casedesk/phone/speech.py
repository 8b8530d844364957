"""What the caller hears, as text for Twilio's ``<Say>``: the greeting from the business clock.

Times are spoken in the calendar's zone ("reopens Monday at 7 AM Central"), never in
UTC or the server's zone, so the line agrees with the hours page and the auto-replies
across daylight-saving changes and holidays.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings

from casedesk.hours.services import HoursStatus, LoadedCalendar
from casedesk.hours.views import weekly_summary

# How a caller in the US names these zones; any other zone is "<city> time".
SPOKEN_ZONES = {
    "America/Chicago": "Central",
    "US/Central": "Central",
    "America/New_York": "Eastern",
    "US/Eastern": "Eastern",
    "America/Denver": "Mountain",
    "America/Phoenix": "Mountain",
    "America/Los_Angeles": "Pacific",
    "US/Pacific": "Pacific",
    "UTC": "U T C",
}


def zone_name(zone: zoneinfo.ZoneInfo) -> str:
    key = zone.key
    return SPOKEN_ZONES.get(key) or f"{key.rsplit('/', 1)[-1].replace('_', ' ')} time"


def clock_time(value: datetime.time) -> str:
    """``7 AM``, ``7:30 PM``, ``noon``, ``midnight``."""
    if value.minute == 0 and value.hour in (0, 12):
        return "midnight" if value.hour == 0 else "noon"
    hour = value.hour % 12 or 12
    suffix = "AM" if value.hour < 12 else "PM"
    return f"{hour} {suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d} {suffix}"


def _hhmm(text: str) -> str:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24:
        return "midnight"
    return clock_time(datetime.time(hours, minutes))


def when(instant: datetime.datetime, now: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """``Monday at 7 AM Central``; the date too when it is a week or more away."""
    local, today = instant.astimezone(zone), now.astimezone(zone).date()
    day = f"{local:%A}"
    if (local.date() - today).days >= 6:
        day = f"{local:%A}, {local:%B} {local.day}"
    return f"{day} at {clock_time(local.time())} {zone_name(zone)}"


def weekly_hours(calendar: LoadedCalendar) -> str:
    """``Monday to Friday, 7 AM to 7 PM Central``."""
    parts = []
    for days, text in weekly_summary(calendar.weekly):
        if text == "Closed":
            continue
        spans = [span.split(" – ") for span in text.split(", ")]
        times = " and ".join(f"{_hhmm(start)} to {_hhmm(end)}" for start, end in spans)
        parts.append(f"{days.replace(' – ', ' to ')}, {times}")
    if not parts:
        return "by appointment"
    return f"{'; '.join(parts)} {zone_name(calendar.zone)}"


def site() -> str:
    return str(settings.OTP_TOTP_ISSUER)


def greeting(hours: HoursStatus) -> str:
    """The menu: in hours, press 1 for a critical emergency and the other channels with the
    hours; outside them, when support reopens and press 1 for the on-call engineer."""
    if hours.open:
        return (
            f"Thank you for calling {site()} support. For a critical emergency, where your "
            "production use of the product is stopped, press 1. For anything else, please "
            "use chat, the portal or email. Support is open "
            f"{weekly_hours(hours.calendar)}."
        )
    reopens = (
        f"and reopens {when(hours.next_open, hours.now, hours.calendar.zone)}"
        if hours.next_open is not None
        else "now"
    )
    return (
        f"Thank you for calling {site()} support. Support is closed {reopens}. "
        "If your production use is stopped, press 1 to reach the on-call engineer. "
        "Calls that are not emergencies may be subject to a fee."
    )


def minutes(seconds: int) -> str:
    whole = max(1, round(seconds / 60))
    return f"{whole} minute{'s' if whole != 1 else ''}"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown length"
    minutes_part, rest = divmod(seconds, 60)
    return f"{minutes_part} min {rest} s" if minutes_part else f"{rest} s"
