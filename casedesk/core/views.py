from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult, get_date_max

from casedesk.core.deadline import DatabaseTimeout, within
from casedesk.core.models import WorkerHeartbeat
from casedesk.core.tasks import WORKER_STALE_AFTER
from casedesk.hours.services import current_calendar, status

_FAVICON = Path(__file__).resolve().parent / "static" / "core" / "favicon.ico"


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
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers and feed readers ask for whatever the pages link
    (read from the app's own static folder, so it needs no collectstatic)."""
    response = HttpResponse(_FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


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


def _take_a_write() -> None:
    """Prove the database can commit a write now, without a table to write into.

    PostgreSQL: ``txid_current()`` gives the transaction an id, so its commit is
    written and flushed like any write's (and is refused by a read-only server).
    SQLite: the transaction begins IMMEDIATE, taking the one write lock.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()" if connection.vendor == "postgresql" else "SELECT 1")


def _report(now: datetime) -> tuple[dict[str, object], list[WorkerHeartbeat]]:
    """Run on a connection of its own, within the health deadline."""
    _take_a_write()
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
    return body, beats


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: 200 when the database takes a write, else 503.

    The database must commit a write, and answer the questions below, within
    ``CASEDESK_HEALTH_DB_SECONDS`` (2): a database that is locked, read-only or
    not answering at all gets a 503 with the reason, in about that time, never
    a hang (the work runs on a bounded connection of its own, see
    :mod:`casedesk.core.deadline`).

    Also reports the task queue and the workers, so a stalled worker shows up
    before a missed SLA deadline does.
    """
    now = timezone.now()
    seconds = settings.HEALTH_DB_SECONDS
    try:
        body, beats = within(seconds, _report, now)
    except DatabaseError as exc:
        if isinstance(exc, DatabaseTimeout):
            reason = f"the database did not take a write within {seconds:g} s"
        else:
            # The class only: a connection error's text names hosts and users.
            reason = f"the database refused a write ({exc.__class__.__name__})"
        body = {"database": "error", "error": exc.__class__.__name__, "reason": reason}
        code = 503
    else:
        if request.user.is_staff:
            # Host names and process ids are for the operators, not the internet.
            body["worker_details"] = [
                {
                    "worker": beat.worker_id,
                    "seen_at": beat.seen_at.isoformat(),
                    "stale": now - beat.seen_at > WORKER_STALE_AFTER,
                }
                for beat in beats
            ]
        code = 200
    response = JsonResponse(body, status=code)
    response["Cache-Control"] = "no-store"
    return response
