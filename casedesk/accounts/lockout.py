"""Lock-out: LOCKOUT_FAILURES wrong passwords within LOCKOUT_WINDOW lock an address.

django-axes does the plumbing: its authentication backend refuses a locked
address before any password is checked, its signal handlers see every failed
and successful log-in, and its middleware turns a refusal into our page
(``views.locked_out``). Axes' own database handler counts failures in one
running total that only expires a cool-off after the *last* failure, so "5 in
15 minutes, then locked for 30" cannot be said with it. This handler (plugged
in through ``AXES_HANDLER``, axes' extension point) keeps:

1. one ``LoginFailure`` row per password tried, counted over the sliding window.
   The row is written *before* the password is checked (``is_allowed``), under
   a lock on the address, and deleted if the password was right. Checking
   first and counting after would let a burst of parallel guesses all pass
   the check while the first ones are still being hashed;
2. a ``LockoutEvent`` "locked" row when the count reaches the limit, with
   ``until`` = now + LOCKOUT_DURATION: the lock, and its audit entry at once;
3. an "unlocked" event when a reset or a person ends it early.

An address is locked while its latest event is a "locked" whose ``until`` is
in the future. Unknown addresses go through exactly the same steps, so the
pages, status codes and database work do not tell them apart.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from casedesk.accounts.models import (
    LockoutEvent,
    LoginFailure,
    User,
    normalize_email,
    plausible_email,
)

logger = logging.getLogger("casedesk.accounts")


def submitted_email(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The address a log-in attempt was for (``AXES_USERNAME_CALLABLE``): see plausible_email."""
    value: object = None
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    if value is None and request is not None:
        value = request.POST.get("username")
    return plausible_email(str(value)) if value else ""


def _parse_ip(raw: str) -> str | None:
    """An IP address as ipaddress prints it, from ``1.2.3.4``, ``1.2.3.4:5555`` or ``[v6]:443``."""
    raw = raw.strip()
    if raw.startswith("["):
        raw = raw[1:].partition("]")[0]
    elif raw.count(":") == 1:  # IPv4 with a port (IPv6 has several colons)
        raw = raw.partition(":")[0]
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address (``AXES_CLIENT_IP_CALLABLE``, the lock-out log), or None.

    Behind a proxy (``CASEDESK_BEHIND_PROXY``) it is the last address in
    X-Forwarded-For, the one our proxy appended; earlier ones are the client's
    to invent. Otherwise the connection's own address.
    """
    raw = str(request.META.get("REMOTE_ADDR") or "")
    if settings.BEHIND_PROXY:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
        if forwarded.strip():
            raw = forwarded.split(",")[-1]
    return _parse_ip(raw)


def network_key(request: HttpRequest) -> str | None:
    """Whom a per-network rate limit counts: the IPv4 address, or the IPv6 /64.

    One IPv6 client is given a whole /64 and may use any address in it, so
    counting single IPv6 addresses would give it 2**64 fresh buckets. None when
    the address cannot be read: the per-network limit is then skipped (per-address
    lock-out still applies) rather than lumping every such client together.
    """
    ip = client_ip(request)
    if ip is None:
        logger.warning("no client address in the request: per-network limits skipped")
        return None
    return network_key_of(ip)


def network_key_of(ip: str) -> str | None:
    """The per-network key of an IP address (see network_key), or None if it is not one."""
    parsed = _parse_ip(ip)
    if parsed is None:
        return None
    address = ipaddress.ip_address(parsed)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Lock:
    email: str
    locked_at: datetime
    until: datetime
    ip_address: str | None


def active_lock(email: str) -> Lock | None:
    """The lock on this address now, if any."""
    latest = (
        LockoutEvent.objects.filter(email=normalize_email(email))
        .order_by("-at", "-id")
        .only("kind", "at", "until", "ip_address")
        .first()
    )
    if latest is None or latest.kind != LockoutEvent.Kind.LOCKED or latest.until is None:
        return None
    if latest.until <= timezone.now():
        return None
    return Lock(latest.email, latest.at, latest.until, latest.ip_address)


def failures_counted(email: str) -> int:
    """How many wrong passwords count towards a lock of this address right now."""
    return _failures_in_window(normalize_email(email))


def _failures_in_window(email: str) -> int:
    """Wrong passwords counted now: within the window and after the last lock or unlock.

    Failures before a lock were paid for by it; after an unlock the count starts again.
    """
    start = timezone.now() - settings.LOCKOUT_WINDOW
    last_event = LockoutEvent.objects.filter(email=email, at__gt=start).order_by("-at").first()
    if last_event is not None:
        start = last_event.at
    return LoginFailure.objects.filter(email=email, at__gt=start).count()


def _serialise(email: str) -> None:
    """Hold a lock on this address until the transaction ends.

    PostgreSQL: a transaction-level advisory lock on a hash of the address.
    SQLite: casedesk begins every transaction IMMEDIATE (settings.py), which
    already holds the database's write lock.
    """
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(b"casedesk.lockout:" + email.encode("utf-8", "surrogatepass"))
        key = int.from_bytes(digest.digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def reserve_attempt(email: str, ip_address: str | None) -> bool:
    """Count a password about to be checked, unless the address is locked (then False).

    Refuses too when the attempts already counted (parallel ones still being
    checked included) fill the window: a burst cannot get more guesses than
    the limit allows.
    """
    with transaction.atomic():
        _serialise(email)
        if active_lock(email) is not None:
            return False
        if _failures_in_window(email) >= settings.LOCKOUT_FAILURES:
            return False
        LoginFailure.objects.create(email=email, ip_address=ip_address, at=timezone.now())
    return True


def lock_if_over_limit(email: str, ip_address: str | None) -> Lock | None:
    """After a wrong password: lock the address if its counted failures reach the limit."""
    now = timezone.now()
    with transaction.atomic():
        _serialise(email)
        if active_lock(email) is not None:
            return None  # a parallel failure locked it already
        if _failures_in_window(email) < settings.LOCKOUT_FAILURES:
            return None
        until = now + settings.LOCKOUT_DURATION
        LockoutEvent.objects.create(
            kind=LockoutEvent.Kind.LOCKED,
            reason=LockoutEvent.Reason.FAILURES,
            email=email,
            ip_address=ip_address,
            at=now,
            until=until,
        )
    logger.warning("locked %r after %d failed log-ins", email, settings.LOCKOUT_FAILURES)
    # Enqueued for every address alike; the worker mails only a real, active account.
    from casedesk.accounts.tasks import tell_owner_of_lock

    tell_owner_of_lock.enqueue(email)
    return Lock(email, now, until, ip_address)


def record_failure(email: str, ip_address: str | None) -> Lock | None:
    """Count one wrong password checked outside log-in (a password change); maybe lock."""
    with transaction.atomic():
        _serialise(email)
        LoginFailure.objects.create(email=email, ip_address=ip_address, at=timezone.now())
    return lock_if_over_limit(email, ip_address)


def unlock(
    email: str,
    *,
    reason: LockoutEvent.Reason,
    by: User | None = None,
    ip_address: str | None = None,
) -> bool:
    """End the lock on an address now, and log who did. Returns False if it was not locked."""
    email = normalize_email(email)
    with transaction.atomic():
        if active_lock(email) is None:
            return False
        LockoutEvent.objects.create(
            kind=LockoutEvent.Kind.UNLOCKED,
            reason=reason,
            email=email,
            ip_address=ip_address,
            by=by,
        )
    logger.info("unlocked %r (%s, by %s)", email, reason, by or "-")
    return True


def locked_now() -> list[Lock]:
    """Every address locked at this moment, newest lock first."""
    now = timezone.now()
    candidates = (
        LockoutEvent.objects.filter(kind=LockoutEvent.Kind.LOCKED, until__gt=now)
        .values_list("email", flat=True)
        .distinct()
    )
    locks = [lock for email in candidates if (lock := active_lock(email)) is not None]
    return sorted(locks, key=lambda lock: lock.locked_at, reverse=True)


def forget_old_failures() -> int:
    """Delete failures too old to count. Returns how many."""
    cutoff = timezone.now() - settings.LOCKOUT_WINDOW
    deleted, _ = LoginFailure.objects.filter(at__lte=cutoff).delete()
    return deleted


class LockoutHandler(AbstractAxesHandler, AxesBaseHandler):  # type: ignore[misc]
    """django-axes handler on casedesk's own tables (see the module docstring)."""

    def is_allowed(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        """Called by axes' backend before the password is checked: reserve the attempt."""
        email = submitted_email(request, credentials)
        if not email:
            return True
        return reserve_attempt(email, getattr(request, "axes_ip_address", None))

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        email = submitted_email(request, credentials)
        return bool(email) and active_lock(email) is not None

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        email = submitted_email(request, credentials)
        if not email:
            return 0
        if active_lock(email) is not None:
            return int(settings.LOCKOUT_FAILURES)
        return _failures_in_window(email)

    def user_login_failed(
        self,
        sender: object,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return  # authenticate() without a request: not a log-in page
        email = submitted_email(request, credentials)
        if not email:
            return
        ip_address = getattr(request, "axes_ip_address", None)
        if getattr(request, "axes_locked_out", False):
            # Refused because already locked: not counted, the lock is not extended.
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            return
        # The failure was counted by is_allowed before the password was checked.
        if lock_if_over_limit(email, ip_address) is not None:
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            user_locked_out.send("axes", request=request, username=email, ip_address=ip_address)

    def user_logged_in(
        self, sender: object, request: HttpRequest, user: User, **kwargs: Any
    ) -> None:
        # A correct password clears the wrong ones before it, and its own reservation.
        LoginFailure.objects.filter(email=normalize_email(user.email)).delete()

    def user_logged_out(
        self, sender: object, request: HttpRequest, user: User | None, **kwargs: Any
    ) -> None:
        return None

    def reset_attempts(
        self,
        *,
        ip_address: str | None = None,
        username: str | None = None,
        ip_or_username: bool = False,
    ) -> int:
        """``axes_reset`` and ``axes.utils.reset``: unlock the address (logged as by staff)."""
        if not username:
            return 0
        return int(unlock(username, reason=LockoutEvent.Reason.BY_STAFF))
