from django.db import models


class PeriodicSchedule(models.Model):
    """When each periodic task is next due.

    Workers claim a due run with a conditional UPDATE (``next_run_at <= now``):
    only the worker whose UPDATE changed the row enqueues the task, so several
    workers never run the same sweep twice, and a crashed worker loses nothing
    (the row stays due until someone claims it).
    """

    name = models.CharField(max_length=200, unique=True, help_text="The task's module path.")
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """The last sign of life of each worker process, shown on /health/."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [
            # /health/ asks for the most recently seen workers.
            models.Index(fields=["-seen_at"], name="heartbeat_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
