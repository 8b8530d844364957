"""Rate limits kept in the database, shared by every web process (no Redis needed).

A :class:`RatePolicy` allows at most ``limit`` hits per ``period`` for one key
(an address, a network) in a sliding window: a hit at ``t`` counts while
``now - period < t``, so it leaves the window at exactly ``t + period``. Its
number lives in ``settings.py`` (an environment variable, practice 1) and is
read at every call, so ``override_settings`` and the ``settings`` fixture work.

Ways to use a policy:

* ``attempt(policy, key)`` counts the request if it is allowed and says so
  (a password-reset mail: every request counts, a refused one does not);
* ``attempt`` before the work and ``refund(policy, key)`` when it went well,
  to count only failures (log-in: only wrong passwords count against a
  network). Counting up front is what stops parallel requests: they cannot
  all pass a check made before any of them was counted;
* ``check(policy, key)`` before and ``record(policy, key)`` after, only where a
  burst slipping a few past the limit does no harm (see :func:`record`).

``reset(policy, key)`` forgets a key's hits (a successful reset, an agent's
help, ``casedesk accounts unblock``).

Keys. The caller normalises them; the limiter compares them exactly. Lower-case
and strip an email address; give an IP address as :mod:`ipaddress` prints it
(and an IPv6 client as its /64 network, which one client can change at will).
A blank key (empty or only white space) is refused with :class:`ValueError`:
it means the caller could not tell who is asking, and counting every such
request in one bucket would let one client lock everyone else out. Any other
string (unicode, lone surrogates, NUL bytes, megabytes) is only hashed, so it
is accepted.

Storage. A key is stored as HMAC-SHA256 (keyed with ``SECRET_KEY``) of the
policy name and the key, in hex: the tables hold no address in clear, and
unlike a plain SHA-256 the hash cannot be reversed by hashing every IPv4
address or a list of email addresses. Rotating ``SECRET_KEY`` forgets every
count, which is harmless for windows of minutes or hours.

Concurrency. Two processes counting the same key at once must not both get the
last slot. Each write runs in one transaction:

1. Upsert the (policy, key) bucket, ``INSERT ... ON CONFLICT DO UPDATE``. On
   PostgreSQL this one statement leaves the bucket row locked by this
   transaction whether it inserted or updated it, even when the periodic
   cleanup deletes the row at that moment (PostgreSQL retries the insert).
   A second process waits at its own upsert until the first commits, then
   counts the first one's hit. On SQLite casedesk begins every transaction
   ``IMMEDIATE`` (settings.py), which already serialises all writers.
2. Count the bucket's hits in the window; if under the limit, delete those that
   left it and add one.

:func:`check` takes no lock: its answer may be a hit or two stale, which the
check-then-record pattern accepts (see :func:`record`).

Called inside an outer ``transaction.atomic()``, the lock is held until the
outer transaction ends, and a rollback of it takes the hit with it: count
outside long transactions, before work that may fail.

Batches. Within :func:`batch`, an :func:`attempt` inside a transaction that has
already locked the key's bucket (an earlier attempt of the same transaction) asks
the database nothing more: nobody else can count that key until the transaction
ends, so the hits it read then, and those it added since, are the whole count.
Allowed, it inserts its hit (one statement); refused, nothing. A key refused once
stays refused, with no statement, until its ``retry_after`` has passed, in the
batch's later transactions too: hits only leave the window when their time comes
(other processes, themselves refused, add none). A mail batch (a few transactions
for dozens of messages, several from one sender) saves five statements a repeated
key. The decisions are the ones :func:`attempt` makes one at a time; only a
:func:`reset` or :func:`refund` made while a batch runs applies from its next batch
(under a second later), and a :func:`record` meanwhile leaves a cached refusal's
``retry_after`` as it was first said.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from casedesk.core.models import RateLimitBucket, RateLimitHit
from casedesk.lib.env import Rate

# Lower-case words joined by hyphens, "password-reset-per-address"; it is
# stored in RateLimitBucket.policy (100 characters).
_POLICY_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_POLICY_NAME_MAX = 100
_HASH_SALT = "casedesk.core.ratelimit"

_registry: dict[str, RatePolicy] = {}


@dataclass(frozen=True)
class RatePolicy:
    """A named limit: at most ``settings.<setting>`` hits per key, for a documented reason.

    The rate is not a field but read from settings at each use, so that every
    number is configured in one place (``settings.py``, from the environment)
    and tests can change it. The comment beside each policy says the default
    number and why (STYLE practice 6); ``why`` is the short reason for logs
    and the admin.

    Two policies may not share a name: they would share their counts.
    """

    name: str
    setting: str
    why: str

    def __post_init__(self) -> None:
        if len(self.name) > _POLICY_NAME_MAX or not _POLICY_NAME.fullmatch(self.name):
            raise ValueError(
                f"rate policy name {self.name!r} must be lower-case words joined by "
                f"hyphens, at most {_POLICY_NAME_MAX} characters"
            )
        if not self.setting.isidentifier():
            raise ValueError(f"rate policy {self.name!r}: {self.setting!r} is not a setting name")
        if not self.why.strip():
            raise ValueError(f"rate policy {self.name!r} needs a reason (why)")
        existing = _registry.setdefault(self.name, self)
        if existing != self:
            raise ValueError(f"two rate policies are named {self.name!r}; they would share counts")

    @property
    def rate(self) -> Rate:
        """The current rate, from ``settings.<setting>``."""
        value = getattr(settings, self.setting, None)
        if not isinstance(value, Rate):
            raise ImproperlyConfigured(
                f"rate policy {self.name!r} reads settings.{self.setting}, "
                f"which must be a casedesk.lib.env.Rate, not {value!r}"
            )
        if value.limit < 1 or value.period <= timedelta(0):
            raise ImproperlyConfigured(
                f"settings.{self.setting} must allow at least 1 hit in a positive period, "
                f"not {value}"
            )
        return value


def policies() -> dict[str, RatePolicy]:
    """Every policy defined so far (by the modules imported), by name."""
    return dict(_registry)


@dataclass(frozen=True)
class Decision:
    """The answer for one request.

    ``remaining`` is how many more hits the window allows now (after this
    one, when :func:`attempt` counted it).
    ``retry_after`` is set only when refused: how long until enough of the
    oldest counted hits leave the window for one more to be allowed
    ("try again in 12 minutes").
    """

    allowed: bool
    remaining: int
    retry_after: timedelta | None


def key_hash(policy: RatePolicy, key: str) -> str:
    """What is stored for ``key`` under ``policy``: 64 hex digits, never the key."""
    if not isinstance(key, str):
        raise TypeError(f"a rate limit key is a str, not {type(key).__name__}")
    if not key.strip():
        raise ValueError(
            f"rate policy {policy.name!r} was given a blank key: "
            "the caller must say whose requests these are"
        )
    # The NUL cannot occur in a policy name, so no two (name, key) pairs give the
    # same message; surrogatepass lets a lone surrogate through instead of failing.
    message = policy.name.encode() + b"\0" + key.encode("utf-8", "surrogatepass")
    return salted_hmac(_HASH_SALT, message, algorithm="sha256").hexdigest()


def attempt(policy: RatePolicy, key: str) -> Decision:
    """Count one hit for ``key`` and allow it, or refuse it uncounted when the window is full."""
    hashed = key_hash(policy, key)
    rate = policy.rate
    batch = _in_batch()
    if batch is not None:
        return _attempt_held(batch, policy, hashed, rate)
    with transaction.atomic():
        now = timezone.now()
        bucket_id = _lock_bucket(policy, hashed, rate, now)
        decision = _decide(RateLimitHit.objects.filter(bucket_id=bucket_id), rate, now)
        if not decision.allowed:
            return decision
        _prune(bucket_id, rate, now)
        RateLimitHit.objects.create(bucket_id=bucket_id, at=now)
    return Decision(allowed=True, remaining=decision.remaining - 1, retry_after=None)


# How long a batch's transaction counts a bucket from memory after locking it. Its
# upsert sets the bucket's expiry this much later than a lone attempt would, so that
# the hits counted from memory meanwhile keep it: the cleanup never takes a bucket
# while a hit in it still counts. (A batch's transaction takes about a second.)
HELD_FOR = timedelta(minutes=1)


@dataclass
class _Held:
    """A bucket locked by this transaction: what it knew of the window when it locked
    it, with the hits it added since."""

    bucket_id: int
    until: datetime  # counted from memory until then (HELD_FOR after the lock)
    newest: list[datetime] = field(default_factory=list)  # newest first, at most the limit
    pruned: bool = False  # its hits that left the window deleted (before its first insert)


_Key = tuple[str, str, Rate]  # the policy's name, the key's hash, the rate


@dataclass
class _Batch:
    held: dict[_Key, _Held] = field(default_factory=dict)  # this transaction's locks
    refused: dict[_Key, datetime] = field(default_factory=dict)  # refused until then


_batch: ContextVar[_Batch | None] = ContextVar("casedesk_ratelimit_batch", default=None)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Within this block, attempts in one transaction lock each bucket once (see the
    module docstring). Call :func:`forget_batch` after rolling back a savepoint in
    which an attempt ran: its hits and its locks are gone with it."""
    token = _batch.set(_Batch())
    try:
        yield
    finally:
        _batch.reset(token)


def forget_batch() -> None:
    """The batch's transaction rolled back (a savepoint of it, or the whole): count
    from the database again (a refusal may have rested on a hit now gone)."""
    batch = _batch.get()
    if batch is not None:
        batch.held.clear()
        batch.refused.clear()


def _in_batch() -> _Batch | None:
    """The batch, inside a transaction; None outside a batch, or outside a transaction
    (an attempt is then its own, and its lock ends with it)."""
    batch = _batch.get()
    if batch is None or not connection.in_atomic_block:
        return None
    if not batch.held:
        # A commit ends the locks: the next transaction counts from the database.
        transaction.on_commit(batch.held.clear)
    return batch


def _attempt_held(batch: _Batch, policy: RatePolicy, hashed: str, rate: Rate) -> Decision:
    """:func:`attempt` in a batch's transaction (the caller's, so no savepoint of its own:
    a failure here fails the caller's savepoint, and the caller forgets the batch)."""
    now = timezone.now()
    key = (policy.name, hashed, rate)
    refused_until = batch.refused.get(key)
    if refused_until is not None and now < refused_until:
        return Decision(allowed=False, remaining=0, retry_after=refused_until - now)
    known = batch.held.get(key)
    if known is None or now >= known.until:
        bucket_id = _lock_bucket(policy, hashed, rate, now, keep=HELD_FOR)
        newest = _newest(RateLimitHit.objects.filter(bucket_id=bucket_id), rate, now)
        known = batch.held[key] = _Held(bucket_id, now + HELD_FOR, newest)
    # The newest hits in the window now are among those known: the window only lost its
    # oldest since, and nobody else could add any.
    newest = [at for at in known.newest if at > now - rate.period]
    decision = _judge(newest, rate, now)
    if not decision.allowed:
        assert decision.retry_after is not None
        batch.refused[key] = now + decision.retry_after
        return decision
    if not known.pruned:
        _prune(known.bucket_id, rate, now)
        known.pruned = True
    RateLimitHit.objects.create(bucket_id=known.bucket_id, at=now)
    known.newest = sorted([now, *newest], reverse=True)[: rate.limit]
    return Decision(allowed=True, remaining=decision.remaining - 1, retry_after=None)


def check(policy: RatePolicy, key: str) -> Decision:
    """Whether one more hit would be allowed now; counts nothing and takes no lock.

    ``remaining`` counts this request: 1 means exactly one more hit is allowed.
    """
    hashed = key_hash(policy, key)
    hits = RateLimitHit.objects.filter(bucket__policy=policy.name, bucket__key_hash=hashed)
    return _decide(hits, policy.rate, timezone.now())


def record(policy: RatePolicy, key: str) -> None:
    """Count one hit for ``key`` whatever the count (a failure after :func:`check`).

    Two failures at the same moment may both be recorded past the limit; the
    key then stays refused a little longer, which is the safe side.
    """
    hashed = key_hash(policy, key)
    rate = policy.rate
    with transaction.atomic():
        now = timezone.now()
        bucket_id = _lock_bucket(policy, hashed, rate, now)
        _prune(bucket_id, rate, now)
        RateLimitHit.objects.create(bucket_id=bucket_id, at=now)


def refund(policy: RatePolicy, key: str) -> None:
    """Give back the newest hit of ``key``: an attempt counted up front that turned out fine.

    The pattern for work that must be counted *before* it runs (so that parallel
    requests cannot all pass a check before any of them is recorded) but should
    only count when it fails: ``attempt`` first, ``refund`` on success.
    """
    hashed = key_hash(policy, key)
    with transaction.atomic():
        newest = (
            RateLimitHit.objects.filter(bucket__policy=policy.name, bucket__key_hash=hashed)
            .order_by("-at", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if newest is not None:
            RateLimitHit.objects.filter(pk=newest).delete()


def reset(policy: RatePolicy, key: str) -> None:
    """Forget every hit of ``key`` under ``policy``; its next request starts afresh."""
    hashed = key_hash(policy, key)
    RateLimitHit.objects.filter(bucket__policy=policy.name, bucket__key_hash=hashed).delete()


def delete_expired(now: datetime | None = None, batch: int = 1000) -> int:
    """Delete the buckets past their expiry with their hits; return how many buckets.

    Every write (even a refused attempt) sets a bucket's ``expires_at`` to its
    time plus the policy's period, so past it no hit in the bucket can count.
    This needs no list of policies and no assumption about the longest period.
    (If an operator lengthens a period, buckets written under the old one may
    go early: for one old period the new limit counts from fewer hits.)

    In batches, each its own transaction:

    1. Lock up to ``batch`` expired buckets, skipping those an attempt holds
       at this moment (``SKIP LOCKED`` on PostgreSQL, which also re-reads
       ``expires_at`` of a row just extended; SQLite's transaction is
       exclusive anyway).
    2. Delete their hits and them. An attempt for one of these keys waits at
       its upsert until this commits, then starts a new bucket.
    """
    now = now or timezone.now()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                RateLimitBucket.objects.select_for_update(skip_locked=True)
                .filter(expires_at__lte=now)
                .order_by("expires_at")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return deleted
            RateLimitHit.objects.filter(bucket_id__in=ids).delete()
            deleted += RateLimitBucket.objects.filter(pk__in=ids).delete()[0]


def _lock_bucket(
    policy: RatePolicy, hashed: str, rate: Rate, now: datetime, *, keep: timedelta = timedelta(0)
) -> int:
    """Lock the key's bucket (creating it if need be).

    Return the bucket's id. Must run inside a transaction: the lock lasts until it ends.
    ``keep``: how much longer than one period the bucket is kept (see :data:`HELD_FOR`).
    """
    bucket = RateLimitBucket(
        policy=policy.name, key_hash=hashed, expires_at=now + rate.period + keep
    )
    RateLimitBucket.objects.bulk_create(
        [bucket],
        update_conflicts=True,
        unique_fields=["policy", "key_hash"],
        update_fields=["expires_at"],
    )
    bucket_id = bucket.pk
    if bucket_id is None:  # a backend that cannot return the id of an upserted row
        bucket_id = RateLimitBucket.objects.values_list("pk", flat=True).get(
            policy=policy.name, key_hash=hashed
        )
    return bucket_id


def _prune(bucket_id: int, rate: Rate, now: datetime) -> None:
    """Delete a locked bucket's hits that left the window, before a write adds one (a
    refusal adds none, so it need not: the count looks at the window only)."""
    RateLimitHit.objects.filter(bucket_id=bucket_id, at__lte=now - rate.period).delete()


def _decide(hits: QuerySet[RateLimitHit], rate: Rate, now: datetime) -> Decision:
    """Allow when fewer than ``rate.limit`` of ``hits`` are in the window ending now.

    One query, so that hits deleted meanwhile (a reset, a check racing a
    write) cannot make the answer inconsistent: the newest ``limit`` hits in
    the window (:func:`_judge` says what they allow).
    """
    return _judge(_newest(hits, rate, now), rate, now)


def _newest(hits: QuerySet[RateLimitHit], rate: Rate, now: datetime) -> list[datetime]:
    """The newest ``rate.limit`` of ``hits`` in the window ending ``now``, newest first."""
    return list(
        hits.filter(at__gt=now - rate.period)
        .order_by("-at")
        .values_list("at", flat=True)[: rate.limit]
    )


def _judge(newest: list[datetime], rate: Rate, now: datetime) -> Decision:
    """What the newest ``rate.limit`` hits in the window allow, newest first. Fewer than
    ``limit`` means allowed. Otherwise one more is allowed once the count drops below
    the limit, which is when the oldest of these (the limit-th newest) leaves the window.
    """
    if len(newest) < rate.limit:
        return Decision(allowed=True, remaining=rate.limit - len(newest), retry_after=None)
    return Decision(allowed=False, remaining=0, retry_after=newest[-1] + rate.period - now)
