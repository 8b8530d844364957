"""Show times in the viewer's own time zone.

Every page loads ``core/viewer-zone.js``, which stores the browser's IANA zone
name (``Intl.DateTimeFormat().resolvedOptions().timeZone``) in the
``casedesk_tz`` cookie; this middleware activates that zone (or the zone a
logged-in person chose on their account, which wins) for the request, so
templates (the admin included) render datetimes in it. Storage and computation
stay in UTC. Pages about a calendar (``/hours/``) override the zone with the
calendar's own and show the viewer's zone beside it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from casedesk.lib.names import is_time_zone

COOKIE = "casedesk_tz"


def viewer_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    """The zone the logged-in person chose, else the browser's cookie, else None."""
    user = getattr(request, "user", None)
    chosen = str(getattr(user, "time_zone", "") or "") if user is not None else ""
    if chosen and is_time_zone(chosen):
        return zoneinfo.ZoneInfo(chosen)
    # Written unencoded by viewer-zone.js; accept a percent-encoded one as well.
    name = unquote(request.COOKIES.get(COOKIE, ""))
    # Only names from the zone database: a cookie is user input.
    if is_time_zone(name):
        return zoneinfo.ZoneInfo(name)
    return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request)
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
