"""What counts as a calendar name and as a time zone name.

Pure Python: settings.py checks CASEDESK_DEFAULT_CALENDAR with it before Django
is set up, and every other reader (URL parameters, cookies, model fields)
asks the same question here.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

CALENDAR_NAME_MAX_LENGTH = 50
_CALENDAR_NAME = re.compile(rf"[-a-zA-Z0-9_]{{1,{CALENDAR_NAME_MAX_LENGTH}}}")


def is_calendar_name(value: str) -> bool:
    """A slug of at most 50 characters (what Calendar.name holds)."""
    return _CALENDAR_NAME.fullmatch(value) is not None


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(value: str) -> bool:
    """An IANA zone name this machine's zone database knows."""
    return value in _time_zones()
