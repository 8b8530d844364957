"""Bump ``Calendar.version`` whenever a calendar or anything in it changes.

Each process caches the BusinessClock built from a calendar together with the
version it was built from (``services.py``); comparing versions costs one small
query and works across processes, where an in-memory signal would not.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from casedesk.hours.models import Holiday, HolidayRule, OpeningInterval


@receiver([post_save, post_delete], sender=OpeningInterval)
@receiver([post_save, post_delete], sender=HolidayRule)
@receiver([post_save, post_delete], sender=Holiday)
def _bump_calendar_version(sender: type, instance: Any, **kwargs: Any) -> None:
    from casedesk.hours.models import Calendar

    Calendar.objects.filter(pk=instance.calendar_id).update(version=F("version") + 1)
