"""The public status page, its machine-readable documents and subscriptions. No log-in.

Every page here is the same for every visitor (no user, no form token), so each
is rendered once per page version and viewer time zone and served from the
cache with an ETag (``caching.cached``). Forms that need a CSRF token
(subscribe) live on their own pages.
"""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from casedesk.accounts.lockout import network_key
from casedesk.core.ratelimit import attempt
from casedesk.hours.services import UnknownCalendar, current_calendar
from casedesk.hours.services import status as hours_status
from casedesk.lib.months import MonthError, parse_month
from casedesk.status import api, presenters, subscriptions
from casedesk.status.api import the_page
from casedesk.status.caching import cached
from casedesk.status.feeds import HistoryAtom, HistoryRss
from casedesk.status.forms import SubscribeForm
from casedesk.status.models import CLOSED_STATUSES, Incident, Kind, MaintenanceStatus
from casedesk.status.policies import SUBSCRIBE_PER_ADDRESS, SUBSCRIBE_PER_IP

HTML = "text/html; charset=utf-8"


def _zone_name() -> str:
    return timezone.get_current_timezone_name()


def _calendar_zone() -> dt.tzinfo:
    try:
        return current_calendar().zone
    except UnknownCalendar:
        return dt.UTC


# ---- Pages ------------------------------------------------------------------------------


@require_safe
def status_page(request: HttpRequest) -> HttpResponse:
    def build() -> tuple[bytes, str]:
        return render_to_string("status/page.html", page_context(), request=None).encode(), HTML

    response = cached(request, ("page", _zone_name()), build)
    response["Vary"] = "Cookie"  # the viewer's zone (casedesk_tz) changes the times shown
    return response


def page_context() -> dict[str, object]:
    page = the_page()
    zone = _calendar_zone()
    timeline = api.with_timeline(Incident.objects.all())
    hours = None
    try:
        hours = hours_status(current_calendar())
    except UnknownCalendar:
        pass
    recent_since = timezone.now() - dt.timedelta(days=7)
    return {
        "status": api.status_doc(page)["status"],
        "groups": presenters.component_rows(zone),  # type: ignore[arg-type]
        "open_incidents": timeline.filter(kind=Kind.INCIDENT).exclude(status__in=CLOSED_STATUSES),
        "active_maintenance": timeline.filter(
            kind=Kind.MAINTENANCE,
            status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING],
        ),
        "upcoming_maintenance": timeline.filter(
            kind=Kind.MAINTENANCE, status=MaintenanceStatus.SCHEDULED
        ).order_by("scheduled_for"),
        "recent": timeline.filter(status__in=CLOSED_STATUSES, resolved_at__gte=recent_since),
        "hours": hours,
        "site_name": settings.OTP_TOTP_ISSUER,
        "support_email": settings.SUPPORT_EMAILS[0],
    }


@require_safe
def incident_page(request: HttpRequest, public_id: str) -> HttpResponse:
    return _one(request, public_id, Kind.INCIDENT)


@require_safe
def maintenance_page(request: HttpRequest, public_id: str) -> HttpResponse:
    return _one(request, public_id, Kind.MAINTENANCE)


def _one(request: HttpRequest, public_id: str, kind: str) -> HttpResponse:
    def build() -> tuple[bytes, str]:
        # Read inside build, after ``cached`` read the version: a row read before it
        # could be older than that version and be cached under it until the next change.
        incident = get_object_or_404(
            api.with_timeline(Incident.objects.filter(kind=kind)), public_id=public_id
        )
        context = {"incident": incident, "site_name": settings.OTP_TOTP_ISSUER}
        return render_to_string("status/incident.html", context).encode(), HTML

    response = cached(request, (kind, public_id, _zone_name()), build)
    response["Vary"] = "Cookie"
    return response


def _month(text: str | None, today: dt.date) -> dt.date:
    """``YYYY-MM`` (ASCII digits) to the first of that month; anything else is a 404."""
    if not text:
        return today.replace(day=1)
    try:
        first = parse_month(text)
    except MonthError:
        raise Http404("no such month") from None
    if first > today:
        raise Http404("no such month")
    return first


@require_safe
def history(request: HttpRequest) -> HttpResponse:
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    first = _month(request.GET.get("month"), today)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    begin = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(after, dt.time(), zone)

    def build() -> tuple[bytes, str]:
        entries = api.with_timeline(
            Incident.objects.filter(started_at__gte=begin, started_at__lt=end).exclude(
                status=MaintenanceStatus.SCHEDULED  # not history yet
            )
        )
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        context = {
            "month": first,
            "entries": entries,
            "previous": previous.strftime("%Y-%m") if previous.year >= 2000 else None,
            "next": after.strftime("%Y-%m") if after <= today else None,
            "site_name": settings.OTP_TOTP_ISSUER,
        }
        return render_to_string("status/history.html", context).encode(), HTML

    response = cached(request, ("history", first.isoformat(), _zone_name()), build)
    response["Vary"] = "Cookie"
    return response


# ---- Machine-readable ------------------------------------------------------------------


# A page on another origin may read the API, and revalidate with If-None-Match
# (which makes the browser ask first with an OPTIONS preflight).
CORS_PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since, Cache-Control",
    "Access-Control-Max-Age": "86400",
    "Allow": "GET, HEAD, OPTIONS",
}


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def api_document(request: HttpRequest, name: str) -> HttpResponse:
    if name not in api.DOCUMENTS:
        raise Http404("no such document")
    if request.method == "OPTIONS":
        preflight = HttpResponse(status=204)
        for header, value in CORS_PREFLIGHT.items():
            preflight[header] = value
        return preflight

    def build() -> tuple[bytes, str]:
        body = json.dumps(api.document(name, the_page()), separators=(",", ":"))
        return body.encode(), "application/json"

    return cached(request, ("api", name), build, cors=True)


@require_safe
def history_feed(request: HttpRequest, kind: str) -> HttpResponse:
    """The Atom or RSS feed, cached like the pages (links are absolute: per host)."""
    feed = HistoryAtom() if kind == "atom" else HistoryRss()

    def build() -> tuple[bytes, str]:
        response = feed(request)
        return response.content, response["Content-Type"]

    return cached(request, ("feed", kind, request.get_host()), build, max_age=60)


@require_safe
def maintenance_ics(request: HttpRequest) -> HttpResponse:
    from casedesk.status.calendar import maintenance_calendar

    return cached(
        request,
        ("ics",),
        lambda: (maintenance_calendar(), "text/calendar; charset=utf-8"),
        max_age=300,
    )


# ---- Subscriptions ------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # The client's network as the lock-out sees it: behind the proxy the last
        # X-Forwarded-For entry (not the proxy's own address), IPv6 per /64. Unknown:
        # the per-network limit is skipped (the per-address one still applies).
        network = network_key(request)
        network_ok = network is None or attempt(SUBSCRIBE_PER_IP, network).allowed
        if network_ok and attempt(SUBSCRIBE_PER_ADDRESS, email).allowed:
            from casedesk.status.tasks import send_confirmation

            send_confirmation.enqueue(email, [c.public_id for c in form.cleaned_data["components"]])
        # The same answer whatever happened: it must not tell who is subscribed.
        return render(request, "status/subscribe_sent.html", {"email": email})
    return render(request, "status/subscribe.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        email, _ = subscriptions.read_confirmation(token)
        if request.method == "POST":
            subscriptions.confirm(token)
            return render(request, "status/subscribed.html", {"email": email})
    except subscriptions.BadLink as exc:
        return render(request, "status/bad_link.html", {"reason": str(exc)}, status=400)
    return render(request, "status/confirm.html", {"email": email})


# RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no form token;
# the signed link itself is the authority.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = subscriptions.subscriber_for(token)
    except subscriptions.BadLink as exc:
        return render(request, "status/bad_link.html", {"reason": str(exc)}, status=400)
    if request.method == "POST":
        if subscriber is not None:
            subscriber.delete()
        return render(request, "status/unsubscribed.html")
    if subscriber is None:
        return render(request, "status/unsubscribed.html")
    return render(request, "status/unsubscribe.html", {"email": subscriber.email})
