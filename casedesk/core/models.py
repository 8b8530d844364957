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


class RateLimitBucket(models.Model):
    """One key (an address, a network) counted by one rate policy (core.ratelimit).

    The key is stored only as a keyed hash, never in clear. Every write takes
    this row's lock (an upsert), which is what serialises two processes
    counting the same key on PostgreSQL. Each write also moves ``expires_at``
    to its time plus the policy's period: after it none of the bucket's hits
    can count any more, and the periodic cleanup deletes the bucket and its
    hits.
    """

    policy = models.CharField(max_length=100, help_text="The rate policy's name.")
    key_hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of the policy and key.")
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            # ratelimit.attempt/record upsert on it; check and reset look buckets up by it.
            models.UniqueConstraint(fields=["policy", "key_hash"], name="ratelimit_bucket_key"),
        ]
        indexes = [
            # tasks.delete_expired_rate_limits finds the buckets past their expiry.
            models.Index(fields=["expires_at"], name="ratelimit_bucket_expired_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.key_hash[:12]}"


class RateLimitHit(models.Model):
    """One counted event (a reset mail asked for, a failed log-in) in a bucket."""

    # No index of its own: ratelimit_hit_window_idx starts with the bucket.
    bucket = models.ForeignKey(
        RateLimitBucket, on_delete=models.CASCADE, related_name="hits", db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [
            # ratelimit counts a bucket's hits in the window (at > now - period),
            # trims those that left it, and finds the oldest to say when to retry.
            models.Index(fields=["bucket", "at"], name="ratelimit_hit_window_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.bucket_id} at {self.at.isoformat()}"
