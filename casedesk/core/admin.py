from django.contrib import admin

from casedesk.core.models import PeriodicSchedule, WorkerHeartbeat


@admin.register(PeriodicSchedule)
class PeriodicScheduleAdmin(admin.ModelAdmin[PeriodicSchedule]):
    list_display = ["name", "next_run_at", "last_enqueued_at"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    list_display = ["worker_id", "hostname", "pid", "started_at", "seen_at"]
