from __future__ import annotations

from datetime import datetime

from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult, get_date_max

from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import WORKER_STALE_AFTER
from casedesk.hours.services import current_calendar, status


def _oldest_waiting(ready: QuerySet[DBTaskResult[..., object]]) -> datetime | None:
    """When the longest-waiting ready task became runnable (enqueued, or its run_after)."""
    now_tasks = ready.filter(run_after=get_date_max()).order_by("enqueued_at")
    scheduled = ready.exclude(run_after=get_date_max()).order_by("run_after")
    candidates = [
        now_tasks.values_list("enqueued_at", flat=True).first(),
        scheduled.values_list("run_after", flat=True).first(),
    ]
    present = [value for value in candidates if value is not None]
    return min(present) if present else None


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where a log-in lands: customers on their cases, staff on the queue; else the front door."""
    user = request.user
    if user.is_authenticated:
        return redirect("desk:queue" if user.is_vendor_staff else "portal:home")
    from casedesk.cases.models import Priority

    calendar = current_calendar()
    context = {
        "calendar": calendar,
        "hours": status(calendar),
        "critical": Priority.objects.filter(is_critical=True).first(),
    }
    return render(request, "core/home.html", context)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: 200 when the database answers, else 503.

    Also reports the task queue and the workers, so a stalled worker shows up
    before a missed SLA deadline does.
    """
    now = timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        ready = DBTaskResult.objects.ready()
        oldest = _oldest_waiting(ready)
        beats = list(WorkerHeartbeat.objects.order_by("-seen_at")[:50])
        stale = [now - beat.seen_at > WORKER_STALE_AFTER for beat in beats]
        body: dict[str, object] = {
            "database": "ok",
            "tasks": {
                "ready": ready.count(),
                "oldest_ready_seconds": (now - oldest).total_seconds() if oldest else None,
            },
            "workers": {"alive": stale.count(False), "stale": stale.count(True)},
        }
        if request.user.is_staff:
            # Host names and process ids are for the operators, not the internet.
            body["worker_details"] = [
                {"worker": beat.worker_id, "seen_at": beat.seen_at.isoformat(), "stale": old}
                for beat, old in zip(beats, stale, strict=True)
            ]
        code = 200
    except DatabaseError as exc:
        body = {"database": "error", "error": exc.__class__.__name__}
        code = 503
    response = JsonResponse(body, status=code)
    response["Cache-Control"] = "no-store"
    return response
