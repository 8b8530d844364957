"""Retries for tasks that talk to the outside world (mail servers, SMS and voice APIs).

django-tasks runs a task once; a failure is recorded and that is all. A task
whose failure may be temporary wraps its function in :func:`retrying`, under
``@task()``::

    @task()
    @retrying(RetryPolicy(max_attempts=6))
    def send_page(page_id: int) -> None:
        ...
        raise RetryableError("SMS gateway timed out")   # try again later
        raise PermanentError("number does not exist")     # never again

On a retryable error the next attempt is enqueued with ``run_after`` set by the
policy's backoff, then the error is re-raised so this attempt is recorded as
failed with its traceback. The attempt number travels as the keyword argument
``attempt``; the wrapped function does not see it. Any other exception is not
retried: unknown failures are bugs, and retrying a bug only repeats it.

Every task also has a time budget (:func:`time_budget`, else its queue's default):
the worker stops a task that runs over it and records it as failed with the
reason; a task with a retry policy is then retried by that policy
(:func:`retry_after_timeout`), and one without, or out of attempts, is parked
(failed, with the reason; its ``on_give_up`` hook, if any, runs).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("casedesk.retry")

R = TypeVar("R")


class RetryableError(Exception):
    """A failure worth another try: a timeout, a refused connection, a 5xx or 429."""


class PermanentError(Exception):
    """A failure that another try cannot fix: a bad address, a rejected credential."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon to try again.

    The delay before attempt n+1 is ``first_delay * factor ** (n - 1)``, capped
    at ``max_delay``. The default (5 attempts: +30 s, +2 min, +8 min, +32 min)
    rides out a provider's short outage within the hour.
    """

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=30)
    factor: float = 4.0
    max_delay: timedelta = timedelta(hours=1)
    retry_on: tuple[type[BaseException], ...] = field(default=(RetryableError,))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.first_delay < timedelta(0) or self.factor < 1:
            raise ValueError("delays must not be negative or shrink")

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        # In float seconds with the exponent bounded, so a long policy cannot
        # overflow timedelta before the cap applies.
        seconds = self.first_delay.total_seconds() * self.factor ** min(attempt - 1, 64)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


def _enqueue_next(
    task_path: str, policy: RetryPolicy, attempt: int, args: Any, kwargs: Any
) -> timedelta:
    """Enqueue attempt ``attempt + 1`` after the policy's delay; returns the delay."""
    wait = policy.delay(attempt)
    # The module attribute is the Task object that @task() made of the function.
    task = import_string(task_path)
    task.using(run_after=timezone.now() + wait).enqueue(*args, attempt=attempt + 1, **kwargs)
    return wait


def retrying(
    policy: RetryPolicy | None = None, *, on_give_up: Callable[..., Any] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``on_give_up(*args, reason=..., **kwargs)`` runs when the worker stopped the last
    attempt over its time budget (an exception the function raises is its own business)."""
    policy = policy or RetryPolicy()

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        task_path = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def run(*args: Any, attempt: int = 1, **kwargs: Any) -> R:
            try:
                return func(*args, **kwargs)
            except PermanentError:
                logger.error("%s failed permanently on attempt %d", task_path, attempt)
                raise
            except policy.retry_on as exc:
                if attempt >= policy.max_attempts:
                    logger.error("%s gave up after %d attempts: %s", task_path, attempt, exc)
                    raise
                wait = _enqueue_next(task_path, policy, attempt, args, kwargs)
                logger.warning(
                    "%s attempt %d failed (%s); attempt %d in %s",
                    task_path,
                    attempt,
                    exc,
                    attempt + 1,
                    wait,
                )
                raise

        run.retry_policy = policy  # type: ignore[attr-defined]
        run.on_give_up = on_give_up  # type: ignore[attr-defined]
        return run

    return decorate


class TimeBudgetExceeded(Exception):
    """What a task stopped by the worker for running over its time budget is recorded as."""


def time_budget(seconds: float) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a task its own time budget (under ``@task()``, above or below ``@retrying``)."""
    if not seconds > 0:
        raise ValueError("a time budget must be positive")

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        func.time_budget = float(seconds)  # type: ignore[attr-defined]
        return func

    return decorate


def retry_after_timeout(task: Any, args: list[Any], kwargs: dict[str, Any], reason: str) -> str:
    """After the worker stopped ``task`` over its budget: the next attempt by its retry
    policy, or parked (its ``on_give_up`` hook told). Returns what happened, for the log.
    Call it in the transaction that records the attempt as failed."""
    func = task.func
    policy: RetryPolicy | None = getattr(func, "retry_policy", None)
    attempt = int(kwargs.get("attempt", 1))
    rest = {k: v for k, v in kwargs.items() if k != "attempt"}
    if policy is not None and attempt < policy.max_attempts:
        wait = _enqueue_next(task.module_path, policy, attempt, args, rest)
        return f"attempt {attempt + 1} in {wait}"
    hook = getattr(func, "on_give_up", None)
    if hook is not None:
        hook(*args, reason=reason, **rest)
    return f"parked after {attempt} attempt(s)" if policy is not None else "parked (no retries)"
