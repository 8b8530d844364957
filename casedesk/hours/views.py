from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from casedesk.hours import ics
from casedesk.hours.models import Weekday
from casedesk.hours.services import (
    LoadedCalendar,
    UnknownCalendar,
    calendar_or_default,
    holidays_in_year,
    status,
)

# Years a visitor may ask about; outside this a URL is almost certainly a typo or a probe.
MIN_YEAR, MAX_YEAR = 1970, 2100


def _calendar(request: HttpRequest) -> LoadedCalendar:
    try:
        return calendar_or_default(request.GET.get("calendar", ""))
    except UnknownCalendar as exc:
        raise Http404(str(exc)) from None


def weekly_summary(weekly: dict[int, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Group weekdays with the same hours: [("Monday – Friday", "07:00 – 19:00"), ...]."""
    rows: list[tuple[list[int], str]] = []
    for day in Weekday:
        intervals = sorted(weekly.get(day.value, []))
        text = ", ".join(f"{start} – {end}" for start, end in intervals) or "Closed"
        if rows and rows[-1][1] == text and rows[-1][0][-1] == day.value - 1:
            rows[-1][0].append(day.value)
        else:
            rows.append(([day.value], text))
    out = []
    for days, text in rows:
        first, last = Weekday(days[0]).label, Weekday(days[-1]).label
        out.append((first if first == last else f"{first} – {last}", text))
    return out


def _holiday_rows(
    calendar: LoadedCalendar, year: int, today: datetime.date
) -> Iterable[dict[str, object]]:
    for day, name in holidays_in_year(calendar, year):
        yield {"date": day, "name": name, "past": day < today, "today": day == today}


@require_GET
def hours_page(request: HttpRequest, year: int | None = None) -> HttpResponse:
    calendar = _calendar(request)
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise Http404("No holiday schedule for that year.")
    now = timezone.now()
    state = status(calendar, now)
    today = calendar.local(now).date()
    years = [year] if year is not None else [today.year, today.year + 1]
    context = {
        "calendar": calendar,
        "state": state,
        "local_now": calendar.local(now),
        "next_open": calendar.local(state.next_open) if state.next_open else None,
        "next_close": calendar.local(state.next_close) if state.next_close else None,
        "weekly": weekly_summary(calendar.weekly),
        "years": [(y, list(_holiday_rows(calendar, y, today))) for y in years],
        "single_year": year,
        "today": today,
        "today_holiday": calendar.holidays.get(today, ""),
    }
    # Templates render datetimes in the active zone: make that the calendar's.
    with timezone.override(calendar.zone):
        return render(request, "hours/hours.html", context)


@require_GET
def status_api(request: HttpRequest) -> JsonResponse:
    try:
        calendar = calendar_or_default(request.GET.get("calendar", ""))
    except UnknownCalendar as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    response = JsonResponse(status(calendar).as_json())
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def holidays_ics(request: HttpRequest) -> HttpResponse:
    calendar = _calendar(request)
    this_year = calendar.local(timezone.now()).year
    rows = []
    for year in range(this_year - 1, this_year + 3):
        rows.extend(holidays_in_year(calendar, year))
    body = ics.export_holidays(calendar.title, rows)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{calendar.name}-holidays.ics"'
    return response
