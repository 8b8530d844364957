"""A task that fails for a passing reason is tried again later; a permanent or
unknown failure is not; and retries stop after the policy's last attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from casedesk.core.retry import PermanentError, RetryableError, RetryPolicy, retrying
from casedesk.core.worker import CasedeskWorker

pytestmark = pytest.mark.django_db(transaction=True)

# What the tasks below were asked to do, in order (the worker runs in this process).
calls: list[tuple[str, int]] = []
NOW = RetryPolicy(max_attempts=3, first_delay=timedelta(0))


@task()
@retrying(NOW)
def flaky(key: str, fail_times: int) -> str:
    calls.append((key, fail_times))
    if sum(1 for k, _ in calls if k == key) <= fail_times:
        raise RetryableError("provider timed out")
    return "delivered"


@task()
@retrying(NOW)
def rejected(key: str) -> None:
    calls.append((key, 0))
    raise PermanentError("no such number")


@task()
@retrying(NOW)
def buggy(key: str) -> None:
    calls.append((key, 0))
    raise KeyError("a bug is not retried")


@task()
@retrying(RetryPolicy(first_delay=timedelta(minutes=5)))
def later(key: str) -> None:
    calls.append((key, 0))
    raise RetryableError("try again in a while")


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def drain() -> None:
    CasedeskWorker(batch=True, interval=0).run_forever()


def statuses(path: str) -> list[str]:
    return list(
        DBTaskResult.objects.filter(task_path=path)
        .order_by("enqueued_at")
        .values_list("status", flat=True)
    )


def test_a_retryable_failure_is_tried_again_until_it_succeeds():
    flaky.enqueue("a", fail_times=2)
    drain()
    assert calls == [("a", 2)] * 3
    assert statuses(flaky.module_path) == ["FAILED", "FAILED", "SUCCESSFUL"]


def test_retries_stop_after_the_last_attempt():
    flaky.enqueue("b", fail_times=10)
    drain()
    assert len(calls) == 3
    assert statuses(flaky.module_path) == ["FAILED"] * 3


def test_a_permanent_failure_is_not_retried():
    rejected.enqueue("c")
    drain()
    assert calls == [("c", 0)]
    assert statuses(rejected.module_path) == ["FAILED"]


def test_an_unknown_exception_is_a_bug_and_is_not_retried():
    buggy.enqueue("d")
    drain()
    assert calls == [("d", 0)]
    assert statuses(buggy.module_path) == ["FAILED"]


def test_the_next_attempt_waits_for_the_backoff():
    before = timezone.now()
    later.enqueue("e")
    drain()
    assert calls == [("e", 0)], "the second attempt is not due yet"
    retry = DBTaskResult.objects.get(task_path=later.module_path, status="READY")
    assert retry.run_after >= before + timedelta(minutes=5)
    assert retry.args_kwargs["kwargs"] == {"attempt": 2}


def test_backoff_grows_by_the_factor_up_to_the_cap():
    policy = RetryPolicy(
        first_delay=timedelta(seconds=30), factor=4, max_delay=timedelta(minutes=10)
    )
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=8),
        timedelta(minutes=10),
    ]


def test_backoff_of_a_very_long_policy_stays_at_the_cap():
    policy = RetryPolicy(max_attempts=200, max_delay=timedelta(hours=1))
    assert policy.delay(22) == policy.delay(199) == timedelta(hours=1)


def test_a_policy_that_makes_no_sense_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="shrink"):
        RetryPolicy(factor=0.5)
