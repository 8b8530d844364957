"""/status/maintenance.ics: maintenance windows for calendars (icalendar, RFC 5545)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from casedesk.status.models import Incident, Kind, MaintenanceStatus

# Completed windows stay in the calendar this long (a calendar shows the past week too).
KEEP_COMPLETED = dt.timedelta(days=30)


def maintenance_calendar() -> bytes:
    host = settings.BASE_URL.split("//", 1)[-1].split("/", 1)[0] or "casedesk"
    calendar = Calendar()
    calendar.add("prodid", "-//casedesk//status maintenance//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{settings.OTP_TOTP_ISSUER} maintenance")
    since = timezone.now() - KEEP_COMPLETED
    windows = Incident.objects.filter(kind=Kind.MAINTENANCE, scheduled_for__isnull=False).exclude(
        status=MaintenanceStatus.COMPLETED, resolved_at__lt=since
    )
    for window in windows.order_by("scheduled_for", "pk"):
        event = Event()
        event.add("uid", f"{window.public_id}@{host}")
        event.add("dtstamp", window.updated_at.astimezone(dt.UTC))
        event.add("dtstart", window.scheduled_for.astimezone(dt.UTC))  # type: ignore[union-attr]
        end = window.scheduled_until or window.resolved_at or window.scheduled_for
        event.add("dtend", end.astimezone(dt.UTC))  # type: ignore[union-attr]
        event.add("summary", f"Maintenance: {window.name}")
        event.add("status", "CONFIRMED")
        event.add("url", f"{settings.BASE_URL}{window.get_absolute_url()}")
        event.add(
            "description", f"{window.status_label}. {settings.BASE_URL}{window.get_absolute_url()}"
        )
        calendar.add_component(event)
    return bytes(calendar.to_ical())
