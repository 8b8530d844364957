"""A rate policy allows each key so many hits in a sliding window and then says
when to come back; policies and keys are counted apart, keys are never stored
in clear, the last slot goes to one process only, and expired counts are swept."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import override_settings

from casedesk.core import periodic, ratelimit
from casedesk.core.models import RateLimitBucket, RateLimitHit
from casedesk.core.ratelimit import Decision, RatePolicy, attempt, check, record, refund, reset
from casedesk.core.tasks import delete_expired_rate_limits
from casedesk.core.tests.concurrency import race
from casedesk.lib.env import Rate

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TEN_MINUTES = timedelta(minutes=10)

THREE_PER_TEN_MINUTES = RatePolicy(
    name="test-three-per-ten-minutes", setting="RATE_TEST_THREE", why="tests of the limiter"
)
OTHER_POLICY = RatePolicy(name="test-other", setting="RATE_TEST_OTHER", why="tests of the limiter")
TWO_DAYS_POLICY = RatePolicy(name="test-two-days", setting="RATE_TEST_TWO_DAYS", why="tests")

ALICE = "alice@example.com"
BOB = "bob@example.org"


@pytest.fixture(autouse=True)
def rates(settings):
    settings.RATE_TEST_THREE = Rate(3, TEN_MINUTES)
    settings.RATE_TEST_OTHER = Rate(3, TEN_MINUTES)
    settings.RATE_TEST_TWO_DAYS = Rate(1, timedelta(days=2))


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def attempts(n: int, key: str = ALICE, policy: RatePolicy = THREE_PER_TEN_MINUTES) -> list[bool]:
    return [attempt(policy, key).allowed for _ in range(n)]


# ---- allowed, then refused, in a sliding window ----


@pytest.mark.django_db
def test_a_key_is_allowed_up_to_the_limit_with_the_remaining_count(clock):
    decisions = [attempt(THREE_PER_TEN_MINUTES, ALICE) for _ in range(3)]
    assert decisions == [
        Decision(allowed=True, remaining=2, retry_after=None),
        Decision(allowed=True, remaining=1, retry_after=None),
        Decision(allowed=True, remaining=0, retry_after=None),
    ]


@pytest.mark.django_db
def test_past_the_limit_a_key_is_refused_and_the_refusal_is_not_counted(clock):
    attempts(3)
    clock.shift(timedelta(minutes=1))
    refused = [attempt(THREE_PER_TEN_MINUTES, ALICE) for _ in range(5)]
    assert refused == [Decision(allowed=False, remaining=0, retry_after=timedelta(minutes=9))] * 5
    assert RateLimitHit.objects.count() == 3


@pytest.mark.django_db
def test_retry_after_is_when_the_oldest_counted_hit_leaves_the_window(clock):
    attempts(1)  # 09:00
    clock.shift(timedelta(minutes=2))
    attempts(2)  # 09:02
    clock.shift(timedelta(minutes=3))  # 09:05
    decision = attempt(THREE_PER_TEN_MINUTES, ALICE)
    assert not decision.allowed
    assert decision.retry_after == timedelta(minutes=5)

    clock.shift(decision.retry_after - timedelta(microseconds=1))
    assert attempt(THREE_PER_TEN_MINUTES, ALICE).allowed is False
    clock.shift(timedelta(microseconds=1))  # 09:10, the 09:00 hit has left
    assert attempt(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 0, None)


@pytest.mark.django_db
def test_the_window_slides_one_hit_at_a_time(clock):
    for _ in range(3):  # 09:00, 09:01, 09:02
        attempts(1)
        clock.shift(timedelta(minutes=1))
    clock.shift(timedelta(minutes=7))  # 09:10: only the first has left the window
    assert attempts(2) == [True, False]
    assert attempt(THREE_PER_TEN_MINUTES, ALICE).retry_after == timedelta(minutes=1)
    clock.shift(timedelta(minutes=1))  # 09:11: the 09:01 hit leaves
    assert attempts(2) == [True, False]


@pytest.mark.django_db
def test_hits_that_left_the_window_are_deleted_on_the_next_write(clock):
    attempts(3)
    clock.shift(timedelta(hours=1))
    attempts(1)
    assert RateLimitHit.objects.count() == 1


@pytest.mark.django_db
def test_the_rate_is_read_from_settings_at_each_call(clock, settings):
    assert attempts(4) == [True, True, True, False]
    settings.RATE_TEST_THREE = Rate(5, TEN_MINUTES)
    assert attempts(2) == [True, True]
    assert check(THREE_PER_TEN_MINUTES, ALICE).allowed is False


# ---- check before the work, record only failures ----


@pytest.mark.django_db
def test_check_counts_nothing(clock):
    for _ in range(10):
        assert check(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 3, None)
    assert not RateLimitHit.objects.exists()


@pytest.mark.django_db
def test_recorded_failures_exhaust_the_limit_that_check_reports(clock):
    record(THREE_PER_TEN_MINUTES, ALICE)
    assert check(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 2, None)
    clock.shift(timedelta(minutes=4))
    record(THREE_PER_TEN_MINUTES, ALICE)
    record(THREE_PER_TEN_MINUTES, ALICE)
    assert check(THREE_PER_TEN_MINUTES, ALICE) == Decision(False, 0, timedelta(minutes=6))
    clock.shift(timedelta(minutes=6))
    assert check(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 1, None)


@pytest.mark.django_db
def test_failures_recorded_past_the_limit_keep_the_key_refused_until_enough_leave(clock):
    for _ in range(3):
        record(THREE_PER_TEN_MINUTES, ALICE)
    clock.shift(timedelta(minutes=5))
    record(THREE_PER_TEN_MINUTES, ALICE)  # a fourth, recorded in a race with check
    clock.shift(timedelta(minutes=5))  # the first three leave, one remains
    assert check(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 2, None)

    for _ in range(4):
        record(THREE_PER_TEN_MINUTES, ALICE)  # five in the window, limit three
    # Allowed again once three of the five have left: the 09:05 one and two of the 09:10 ones.
    assert check(THREE_PER_TEN_MINUTES, ALICE).retry_after == TEN_MINUTES


# ---- isolation, reset ----


@pytest.mark.django_db
def test_each_key_has_its_own_count(clock):
    attempts(3, ALICE)
    assert attempts(3, BOB) == [True, True, True]
    assert attempt(THREE_PER_TEN_MINUTES, ALICE).allowed is False


@pytest.mark.django_db
def test_each_policy_counts_the_same_key_apart(clock):
    attempts(3, ALICE, THREE_PER_TEN_MINUTES)
    assert attempts(3, ALICE, OTHER_POLICY) == [True, True, True]
    assert check(THREE_PER_TEN_MINUTES, ALICE).allowed is False


@pytest.mark.django_db
def test_reset_forgets_one_keys_hits_under_one_policy(clock):
    attempts(3, ALICE)
    attempts(3, BOB)
    attempts(3, ALICE, OTHER_POLICY)
    reset(THREE_PER_TEN_MINUTES, ALICE)
    assert attempts(3, ALICE) == [True, True, True]
    assert check(THREE_PER_TEN_MINUTES, BOB).allowed is False
    assert check(OTHER_POLICY, ALICE).allowed is False


@pytest.mark.django_db
def test_reset_of_a_key_never_seen_does_nothing():
    reset(THREE_PER_TEN_MINUTES, ALICE)
    assert not RateLimitBucket.objects.exists()


# ---- what is stored ----


@pytest.mark.django_db
def test_the_key_is_stored_only_as_a_keyed_hash():
    attempt(THREE_PER_TEN_MINUTES, "203.0.113.7")
    bucket = RateLimitBucket.objects.get()
    assert bucket.policy == "test-three-per-ten-minutes"
    assert len(bucket.key_hash) == 64
    assert int(bucket.key_hash, 16) >= 0
    assert "203.0.113.7" not in str(list(RateLimitBucket.objects.values()))
    # Not a plain SHA-256, which anyone could reverse by hashing every IPv4 address.
    for plain in ("203.0.113.7", "test-three-per-ten-minutes203.0.113.7"):
        assert bucket.key_hash != hashlib.sha256(plain.encode()).hexdigest()


def test_the_hash_is_stable_and_differs_per_policy_and_per_key():
    first = ratelimit.key_hash(THREE_PER_TEN_MINUTES, ALICE)
    assert ratelimit.key_hash(THREE_PER_TEN_MINUTES, ALICE) == first
    assert ratelimit.key_hash(OTHER_POLICY, ALICE) != first
    assert ratelimit.key_hash(THREE_PER_TEN_MINUTES, BOB) != first


def test_the_hash_depends_on_the_secret_key(settings):
    first = ratelimit.key_hash(THREE_PER_TEN_MINUTES, ALICE)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 50
    assert ratelimit.key_hash(THREE_PER_TEN_MINUTES, ALICE) != first


# ---- garbage keys ----


@pytest.mark.parametrize("blank", ["", " ", "\t\r\n"])
@pytest.mark.django_db
def test_a_blank_key_is_refused_with_a_value_error(blank):
    for call in (attempt, check, record, reset):
        with pytest.raises(ValueError, match="blank key"):
            call(THREE_PER_TEN_MINUTES, blank)
    assert not RateLimitBucket.objects.exists()


@pytest.mark.django_db
def test_a_key_that_is_not_a_string_is_refused_with_a_type_error():
    with pytest.raises(TypeError):
        attempt(THREE_PER_TEN_MINUTES, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "odd",
    [
        "x" * 1_000_000,
        "émile@exämple.org",
        "用户@例子.广告",
        "😀",
        "a\0b",
        "\0",
        "\ud800",  # a lone surrogate: not encodable as UTF-8
        "2001:db8::/64",
        "' OR 1=1; --",
    ],
    ids=[
        "a-megabyte",
        "accents",
        "cjk",
        "emoji",
        "nul-inside",
        "only-nul",
        "surrogate",
        "ipv6",
        "sql",
    ],
)
@pytest.mark.django_db
def test_any_other_string_is_a_key_of_its_own(clock, odd):
    assert attempts(4, odd) == [True, True, True, False]
    assert check(THREE_PER_TEN_MINUTES, odd).allowed is False
    assert attempts(1, "a") == [True]  # not confused with a neighbour
    assert RateLimitBucket.objects.filter(key_hash=ratelimit.key_hash(THREE_PER_TEN_MINUTES, odd))
    reset(THREE_PER_TEN_MINUTES, odd)
    assert check(THREE_PER_TEN_MINUTES, odd).allowed is True


def test_keys_that_differ_only_around_a_nul_have_different_hashes():
    assert ratelimit.key_hash(THREE_PER_TEN_MINUTES, "a\0b") != ratelimit.key_hash(
        THREE_PER_TEN_MINUTES, "a"
    )
    assert ratelimit.key_hash(THREE_PER_TEN_MINUTES, "\ud800") != ratelimit.key_hash(
        THREE_PER_TEN_MINUTES, "\ud801"
    )


# ---- defining policies ----


@pytest.mark.parametrize(
    "name", ["", "Login", "login_failures", "-login", "login-", "a--b", "a" * 101]
)
def test_a_policy_name_must_be_lower_case_words_joined_by_hyphens(name):
    with pytest.raises(ValueError, match="lower-case words"):
        RatePolicy(name=name, setting="RATE_TEST_THREE", why="tests")


def test_two_different_policies_may_not_share_a_name():
    with pytest.raises(ValueError, match="share counts"):
        RatePolicy(name="test-three-per-ten-minutes", setting="RATE_TEST_OTHER", why="tests")


def test_defining_the_same_policy_twice_is_harmless():
    again = RatePolicy(
        name="test-three-per-ten-minutes", setting="RATE_TEST_THREE", why="tests of the limiter"
    )
    assert ratelimit.policies()["test-three-per-ten-minutes"] == again


def test_a_policy_needs_a_reason():
    with pytest.raises(ValueError, match="reason"):
        RatePolicy(name="test-no-reason", setting="RATE_TEST_THREE", why=" ")


@pytest.mark.parametrize("value", [None, "3/1h", (3, TEN_MINUTES)])
def test_a_setting_that_is_not_a_rate_fails_loudly_naming_it(settings, value):
    settings.RATE_TEST_THREE = value
    with pytest.raises(ImproperlyConfigured, match="settings.RATE_TEST_THREE"):
        attempt(THREE_PER_TEN_MINUTES, ALICE)


@pytest.mark.parametrize("rate", [Rate(0, TEN_MINUTES), Rate(3, timedelta(0))])
def test_a_rate_that_allows_nothing_fails_loudly(settings, rate):
    settings.RATE_TEST_THREE = rate
    with pytest.raises(ImproperlyConfigured, match="at least 1 hit"):
        check(THREE_PER_TEN_MINUTES, ALICE)


def test_an_undefined_setting_fails_loudly():
    unset = RatePolicy(name="test-unset", setting="RATE_TEST_NOT_DEFINED", why="tests")
    with pytest.raises(ImproperlyConfigured, match="RATE_TEST_NOT_DEFINED"):
        unset.rate  # noqa: B018


# ---- two processes at once ----


@pytest.mark.django_db(transaction=True)
def test_many_processes_attempting_a_new_key_at_once_get_exactly_the_limit():
    decisions = race(12, lambda: attempt(THREE_PER_TEN_MINUTES, ALICE))
    assert sum(d.allowed for d in decisions) == 3
    assert sorted(d.remaining for d in decisions if d.allowed) == [0, 1, 2]
    assert RateLimitBucket.objects.count() == 1
    assert RateLimitHit.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_many_processes_attempting_a_known_key_at_once_share_the_slots_left():
    attempt(THREE_PER_TEN_MINUTES, ALICE)
    decisions = race(12, lambda: attempt(THREE_PER_TEN_MINUTES, ALICE))
    assert sum(d.allowed for d in decisions) == 2
    assert RateLimitHit.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_failures_recorded_at_once_are_all_counted():
    race(8, lambda: record(THREE_PER_TEN_MINUTES, ALICE))
    assert RateLimitHit.objects.count() == 8
    assert check(THREE_PER_TEN_MINUTES, ALICE).allowed is False


# ---- cleanup ----


@pytest.mark.django_db
def test_the_cleanup_deletes_buckets_whose_hits_all_left_the_window(clock):
    attempts(3, ALICE)
    clock.shift(timedelta(minutes=5))
    attempts(1, BOB)
    clock.shift(timedelta(minutes=5))  # Alice's last hit leaves now, Bob's in 5 minutes
    assert delete_expired_rate_limits.call() == 1
    assert list(RateLimitHit.objects.values_list("bucket__key_hash", flat=True)) == [
        ratelimit.key_hash(THREE_PER_TEN_MINUTES, BOB)
    ]
    assert attempts(3, ALICE) == [True, True, True]


@pytest.mark.django_db
def test_the_cleanup_keeps_what_a_long_policy_still_counts(clock):
    attempt(TWO_DAYS_POLICY, ALICE)
    clock.shift(timedelta(days=1, hours=23))
    assert delete_expired_rate_limits.call() == 0
    assert check(TWO_DAYS_POLICY, ALICE).allowed is False
    clock.shift(timedelta(hours=1))
    assert delete_expired_rate_limits.call() == 1
    assert not RateLimitHit.objects.exists()


@pytest.mark.django_db
def test_a_refused_attempt_keeps_a_bucket_one_more_period(clock):
    attempts(3, ALICE)
    clock.shift(timedelta(minutes=9))
    attempts(1, ALICE)  # refused; the bucket is kept until 09:19, a little longer than needed
    clock.shift(timedelta(minutes=9))
    assert ratelimit.delete_expired() == 0
    clock.shift(timedelta(minutes=1))
    assert ratelimit.delete_expired() == 1


@pytest.mark.django_db
def test_the_cleanup_works_in_batches(clock):
    for n in range(7):
        attempt(THREE_PER_TEN_MINUTES, f"198.51.100.{n}")
    clock.shift(TEN_MINUTES)
    assert ratelimit.delete_expired(batch=3) == 7
    assert not RateLimitBucket.objects.exists()
    assert not RateLimitHit.objects.exists()


def test_the_cleanup_is_a_periodic_task():
    entry = periodic.registered()["casedesk.core.tasks.delete_expired_rate_limits"]
    assert entry.every == timedelta(hours=1)


REFUND_POLICY = RatePolicy(name="test-refund", setting="RATE_TEST_REFUND", why="tests")


@pytest.mark.django_db
def test_refund_gives_back_the_newest_hit_only():
    policy = REFUND_POLICY
    with override_settings(RATE_TEST_REFUND=Rate(2, timedelta(minutes=10))):
        assert attempt(policy, "k").allowed
        assert attempt(policy, "k").allowed
        assert not attempt(policy, "k").allowed
        refund(policy, "k")
        assert attempt(policy, "k").allowed
        assert not attempt(policy, "k").allowed
        refund(policy, "never-seen")  # nothing to give back: no error


# ---- batches: a transaction counts a bucket it has locked from memory ----


def _in_batch(steps: list[timedelta], clock: time_machine.Traveller, key: str) -> list[Decision]:
    """Attempts for ``key`` at these offsets, in one batch's transaction."""
    decisions = []
    with ratelimit.batch(), transaction.atomic():
        for step in steps:
            clock.shift(step)
            decisions.append(attempt(THREE_PER_TEN_MINUTES, key))
    return decisions


@pytest.mark.django_db
def test_a_batch_decides_as_attempts_one_at_a_time_do(clock):
    steps = [timedelta(0), timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3)]
    steps += [timedelta(minutes=5), timedelta(seconds=1), timedelta(minutes=2), timedelta(0)]
    alone = []
    for step in steps:
        clock.shift(step)
        alone.append(attempt(THREE_PER_TEN_MINUTES, ALICE))
    clock.move_to(START)
    assert _in_batch(steps, clock, BOB) == alone
    assert [d.allowed for d in alone] == [True, True, True, False, True, True, True, False]


@pytest.mark.django_db
def test_a_batch_locks_a_bucket_once_a_transaction_and_refuses_with_no_statement(
    clock, django_assert_num_queries
):
    with ratelimit.batch(), transaction.atomic():
        with django_assert_num_queries(4):  # upsert, count, old hits, the hit
            assert attempt(THREE_PER_TEN_MINUTES, ALICE).allowed
        with django_assert_num_queries(2):  # the hits only
            assert attempts(2, ALICE) == [True, True]
        with django_assert_num_queries(0):
            assert attempts(2, ALICE) == [False, False]
        with django_assert_num_queries(4):  # another key: its own bucket
            assert attempt(THREE_PER_TEN_MINUTES, BOB).allowed


@pytest.mark.django_db(transaction=True)
def test_a_batch_remembers_a_refusal_across_its_transactions_until_its_retry_after(
    clock, django_assert_num_queries
):
    attempts(3, ALICE)
    clock.shift(timedelta(minutes=4))
    with ratelimit.batch():
        with transaction.atomic():
            assert attempt(THREE_PER_TEN_MINUTES, ALICE) == Decision(False, 0, timedelta(minutes=6))
        clock.shift(timedelta(minutes=5))
        with transaction.atomic(), django_assert_num_queries(0):
            assert attempt(THREE_PER_TEN_MINUTES, ALICE) == Decision(False, 0, timedelta(minutes=1))
        clock.shift(timedelta(minutes=1))  # the three hits (all at 09:00) leave the window
        with transaction.atomic():
            assert attempt(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 2, None)


@pytest.mark.django_db
def test_a_refused_attempt_deletes_nothing_an_allowed_one_deletes_what_left_the_window(
    clock, django_assert_num_queries
):
    attempts(3)
    clock.shift(timedelta(minutes=5))
    with django_assert_num_queries(4):  # savepoint, upsert, count, release: no delete
        assert attempts(1) == [False]
    assert RateLimitHit.objects.count() == 3
    clock.shift(timedelta(minutes=5))
    assert attempts(1) == [True]
    assert RateLimitHit.objects.count() == 1


@pytest.mark.django_db
def test_after_a_rollback_a_batch_counts_from_the_database_again(clock):
    with ratelimit.batch(), transaction.atomic():
        assert attempts(2, ALICE) == [True, True]
        with pytest.raises(KeyError), transaction.atomic():
            assert attempt(THREE_PER_TEN_MINUTES, ALICE).allowed
            raise KeyError("the work failed: its hit goes with it")
        ratelimit.forget_batch()
        assert attempts(2, ALICE) == [True, False]


@pytest.mark.django_db(transaction=True)
def test_a_commit_ends_what_a_batch_knows_of_a_bucket(clock):
    with ratelimit.batch():
        with transaction.atomic():
            assert attempts(2, ALICE) == [True, True]
        record(THREE_PER_TEN_MINUTES, ALICE)  # another process, between two transactions
        with transaction.atomic():
            assert attempts(1, ALICE) == [False]


@pytest.mark.django_db
def test_the_cleanup_keeps_a_bucket_while_a_hit_counted_in_a_batch_still_counts(clock):
    steps = [timedelta(0), timedelta(seconds=30), timedelta(seconds=1)]
    assert [d.allowed for d in _in_batch(steps, clock, ALICE)] == [True, True, True]
    clock.move_to(START + TEN_MINUTES + timedelta(seconds=1))  # the first hit left
    assert ratelimit.delete_expired() == 0
    # The hits at 09:00:30 and 09:00:31 still count.
    assert attempt(THREE_PER_TEN_MINUTES, ALICE) == Decision(True, 0, None)
    assert not attempt(THREE_PER_TEN_MINUTES, ALICE).allowed
