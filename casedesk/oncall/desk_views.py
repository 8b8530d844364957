"""The on-call pages of the desk: open pages and critical cases with their 2-hour clock,
who is on call now and next, the two-week calendar, gaps, feeds, and the report.

Staff only (a 404 for anyone else, like every desk page); state changes on POST.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from casedesk.accounts.models import Role
from casedesk.cases.desk_views import _staff, staff_only
from casedesk.cases.models import ACTIVE_STATUSES, Case
from casedesk.hours.services import current_calendar
from casedesk.lib.durations import humanize_duration
from casedesk.lib.months import MonthError, month_span, parse_month
from casedesk.lib.spreadsheet import csv_response
from casedesk.oncall import report, schedules, services
from casedesk.oncall.models import (
    CODE_RE,
    LIVE_PAGE_STATUSES,
    FeedToken,
    Page,
    Schedule,
    new_feed_token,
)

CALENDAR_DAYS = 14
GAP_HORIZON = timedelta(days=14)


@dataclass(frozen=True)
class ClockRow:
    case: Case
    page: Page | None
    due: datetime
    left: str
    overdue: bool


def _clock_rows(now: datetime) -> list[ClockRow]:
    cases = (
        Case.objects.filter(
            priority__is_critical=True, status__in=ACTIVE_STATUSES, first_responded_at__isnull=True
        )
        .select_related("organization", "page_link__page", "assignee")
        .order_by("first_response_due", "pk")[:200]
    )
    out = []
    for case in cases:
        link = getattr(case, "page_link", None)
        left = case.first_response_due - now
        out.append(
            ClockRow(
                case,
                link.page if link else None,
                case.first_response_due,
                humanize_duration(abs(left) - abs(left) % timedelta(minutes=1)),
                left < timedelta(0),
            )
        )
    return out


@login_required
@staff_only
@require_safe
def board(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    pages = list(
        Page.objects.filter(status__in=LIVE_PAGE_STATUSES)
        .select_related("organization", "acknowledged_by", "policy")
        .prefetch_related("page_cases__case")
        .order_by("opened_at")
    )
    all_schedules = list(Schedule.objects.select_related("fallback"))
    rota = [(s, schedules.now_and_next(s, now)) for s in all_schedules]
    gaps = [
        (s, gap)
        for s in all_schedules
        for gap in schedules.schedule_gaps(s, now, now + GAP_HORIZON)
    ]
    me = _staff(request)
    feed = FeedToken.objects.filter(person=me).first()
    return render(
        request,
        "oncall/desk/board.html",
        {
            "pages": pages,
            "clocks": _clock_rows(now),
            "rota": rota,
            "gaps": gaps,
            "feed": feed,
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "responders": schedules.responders(p) if (p := schedules.default_policy()) else [],
        },
    )


@login_required
@staff_only
@require_POST
def acknowledge(request: HttpRequest, code: str) -> HttpResponse:
    code = code.upper()
    if not CODE_RE.fullmatch(code):
        raise Http404("no such page")
    page = get_object_or_404(Page, code=code)
    done = services.acknowledge(page, _staff(request), "desk")
    if done.acknowledged_now:
        messages.success(request, f"You acknowledged page {page.code}; the escalation stopped.")
    else:
        messages.info(request, f"Page {page.code} was already {page.get_status_display().lower()}.")
    return redirect("oncall_desk:board")


@login_required
@staff_only
@require_POST
def make_feed(request: HttpRequest) -> HttpResponse:
    """Create (or, with ``renew``, replace) my personal feed address."""
    me = _staff(request)
    FeedToken.objects.filter(person=me).delete()
    FeedToken.objects.create(person=me)
    messages.success(request, "Your calendar feed address is ready; the old one, if any, stopped.")
    return redirect("oncall_desk:board")


@login_required
@staff_only
@require_POST
def renew_schedule_feed(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace a schedule's feed address (a leaked one stops working). Admins only: every
    subscriber has to take the new address."""
    if _staff(request).role != Role.ADMIN:
        raise PermissionDenied("only an admin can renew a schedule's feed address")
    schedule = get_object_or_404(Schedule, pk=pk)
    schedule.feed_token = new_feed_token()
    schedule.save(update_fields=["feed_token"])
    messages.success(request, "The schedule's feed has a new address; the old one stopped.")
    return redirect("oncall_desk:calendar", pk=schedule.pk)


@dataclass(frozen=True)
class DayCell:
    day: date
    lines: list[tuple[str, str, bool, bool]]  # (layer, person, override, fallback)


@login_required
@staff_only
@require_safe
def calendar(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule.objects.select_related("fallback"), pk=pk)
    zone = schedule.zone
    today = timezone.now().astimezone(zone).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=CALENDAR_DAYS), datetime.min.time(), tzinfo=zone)
    days = [today + timedelta(days=i) for i in range(CALENDAR_DAYS)]
    cells = {d: DayCell(d, []) for d in days}
    for layer in schedules.layers(schedule):
        for slot in schedules.layer_timeline(layer, start, end):
            local_start = slot.start.astimezone(zone)
            local_end = slot.end.astimezone(zone)
            who = (slot.person.full_name or slot.person.email) if slot.person else "nobody"
            for d in days:
                day_start = datetime.combine(d, datetime.min.time(), tzinfo=zone)
                day_end = datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=zone)
                if local_start < day_end and local_end > day_start:
                    frm = max(local_start, day_start)
                    to = min(local_end, day_end)
                    span = f"{frm:%H:%M}–{'24:00' if to == day_end else f'{to:%H:%M}'}"
                    cells[d].lines.append(
                        (f"{layer.name} {span}", who, slot.override, slot.fallback)
                    )
    return render(
        request,
        "oncall/desk/calendar.html",
        {
            "schedule": schedule,
            "weeks": [list(cells.values())[i : i + 7] for i in range(0, CALENDAR_DAYS, 7)],
            "can_renew_feed": _staff(request).role == Role.ADMIN,
            "feed_url": request.build_absolute_uri(
                reverse("oncall:schedule_feed", args=[schedule.feed_token])
            ),
        },
    )


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _parse_month(text: str | None, default: date) -> date:
    """``2026-11`` -> 1 November 2026; anything else -> ``default`` (the form says so)."""
    try:
        return parse_month((text or "").strip())
    except MonthError:
        return default


@login_required
@staff_only
@require_safe
def report_page(request: HttpRequest) -> HttpResponse:
    zone: zoneinfo.ZoneInfo = current_calendar().zone
    today = timezone.now().astimezone(zone).date()
    default_from = _month_start(today - timedelta(days=335))
    first = _parse_month(request.GET.get("from"), default_from)
    last = _parse_month(request.GET.get("to"), _month_start(today))
    if last < first:
        first, last = last, first
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = month_span(last, zone)[1]
    built = report.build(start, end, zone)
    if request.GET.get("format") == "csv":
        return csv_response(
            report.to_csv(built, zone), f"critical-cases-{first:%Y-%m}-{last:%Y-%m}.csv"
        )
    bars = report.chart(built.months)
    return render(
        request,
        "oncall/desk/report.html",
        {
            "report": built,
            "bars": bars,
            "chart_width": 60 + len(bars) * (report.CHART_BAR + report.CHART_GAP),
            "first": first,
            "last": last,
            "zone": zone,
        },
    )
