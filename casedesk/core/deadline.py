"""Database work that must answer within a deadline, or be given up cleanly.

``/health/`` and the SMTP receiver must answer in seconds even when the database
does not: a black-holed network path leaves a query waiting for a reply that
never comes, and no server-side timeout can end that wait. So such work runs
through :func:`within` (or :func:`awithin` from an event loop):

1. A thread of its own runs the function on a connection of its own, opened
   with the deadline as its connect timeout and, on PostgreSQL, as its
   ``statement_timeout`` and ``lock_timeout`` (on SQLite as its busy timeout),
   so a slow or locked server cancels the work itself.
2. The caller waits at most the deadline. When it passes, the caller gets
   :class:`DatabaseTimeout` and the thread's connection is cut (PostgreSQL: the
   socket is shut down; SQLite: the statement is interrupted), so the thread
   ends at once instead of waiting forever; the server rolls back what was not
   committed.
3. The thread closes its connection when done.

A commit that raced the deadline may still land after the caller gave up: the
callers are written for that (the SMTP receiver answers 451 and the message's
digest makes the sender's retry a no-op).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import socket
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from casedesk.lib.dbtimeouts import server_settings

logger = logging.getLogger("casedesk.core.deadline")

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseTimeout(OperationalError):
    """The database did not finish the work within the deadline."""


def bounded_connection(seconds: float, using: str = DEFAULT_DB_ALIAS) -> BaseDatabaseWrapper:
    """A new, unconnected wrapper for ``using`` whose every wait ends within ``seconds``."""
    base = connections[using]
    settings_dict = dict(base.settings_dict)
    options = dict(settings_dict.get("OPTIONS") or {})
    # A connection of its own, never one from the pool: the pool's connections were
    # opened with the ordinary timeouts, and abort() below cuts this one's socket.
    options.pop("pool", None)
    whole = max(1, math.ceil(seconds))
    if base.vendor == "postgresql":
        options["connect_timeout"] = min(whole, int(options.get("connect_timeout") or whole))
        # Later settings win over the ones from settings.py. Behind PgBouncer none can
        # be sent (it refuses them): the cut in abort() alone keeps the deadline.
        if not settings.DB_PGBOUNCER:
            given = str(options.get("options", ""))
            options["options"] = (
                f"{given} {server_settings(statement_timeout=whole, lock_timeout=whole)}".strip()
            )
    elif base.vendor == "sqlite":
        options["timeout"] = seconds
    settings_dict["OPTIONS"] = options
    return type(base)(settings_dict, using)


# PostgreSQL's answers when statement_timeout or lock_timeout ended a statement.
_TIMEOUT_SQLSTATES = {"57014", "55P03"}


def _ran_out_of_time(exc: BaseException) -> bool:
    """Did one of the deadline's own timeouts end the work (not another error)?"""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else None
    if cause is None:
        return False
    if getattr(cause, "sqlstate", None) in _TIMEOUT_SQLSTATES:
        return True
    if type(cause).__name__ == "ConnectionTimeout":  # psycopg's connect_timeout
        return True
    # SQLite's busy timeout (the deadline) ran out waiting for the write lock.
    return type(cause).__module__ == "sqlite3" and "database is locked" in str(cause)


class _Attempt:
    """One run of a function on its own bounded connection, in its own thread."""

    def __init__(
        self,
        seconds: float,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        using: str,
    ) -> None:
        self.seconds = seconds
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._raw: Any = None  # the thread's DB-API connection while it is open
        self._vendor = connections[using].vendor
        self._aborted = False
        self._thread = threading.Thread(
            target=self._run, args=(fn, args, kwargs, using), name="db-deadline", daemon=True
        )
        self._thread.start()

    def _run(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], using: str
    ) -> None:
        wrapper: BaseDatabaseWrapper | None = None
        try:
            # Made here: Django's connections belong to the thread that made them.
            wrapper = bounded_connection(self.seconds, using)
            connections[using] = wrapper  # this thread's connection for the alias
            wrapper.ensure_connection()
            with self._lock:
                if self._aborted:
                    raise DatabaseTimeout("given up before the connection was made")
                self._raw = wrapper.connection
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if _ran_out_of_time(exc):
                late = DatabaseTimeout(f"the database did not answer within {self.seconds:g} s")
                late.__cause__ = exc
                exc = late
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)
        finally:
            with self._lock:
                self._raw = None  # abort() must not touch a closed socket
            try:
                if wrapper is not None:
                    wrapper.close()
            except Exception:  # a connection that was cut cannot be closed politely
                logger.debug("closing a timed-out connection failed", exc_info=True)

    def abort(self) -> None:
        """Cut the thread's connection, so whatever it waits for ends now."""
        with self._lock:
            self._aborted = True
            raw = self._raw
            if raw is None:
                return
            try:
                if self._vendor == "postgresql":
                    # shutdown() acts on the socket, not the descriptor: the copy's
                    # shutdown wakes psycopg's wait on the original with an EOF.
                    with socket.socket(fileno=os.dup(raw.pgconn.socket)) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                elif self._vendor == "sqlite":
                    raw.interrupt()
            except Exception:  # closed meanwhile (psycopg raises its own error then)
                logger.debug("cutting a timed-out connection failed", exc_info=True)

    def timed_out(self) -> DatabaseTimeout:
        self.abort()
        return DatabaseTimeout(f"the database did not answer within {self.seconds:g} s")


def within(
    seconds: float,
    fn: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``fn(*args, **kwargs)`` on a connection of its own, or :class:`DatabaseTimeout`.

    Runs on the ``default`` database; blocks the caller at most ``seconds``.
    """
    attempt = _Attempt(seconds, fn, args, kwargs, DEFAULT_DB_ALIAS)
    try:
        return attempt.future.result(timeout=seconds)  # type: ignore[no-any-return]
    except concurrent.futures.TimeoutError:
        raise attempt.timed_out() from None


async def awithin(
    seconds: float,
    fn: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """:func:`within` for an event loop: the loop keeps serving while the thread works."""
    attempt = _Attempt(seconds, fn, args, kwargs, DEFAULT_DB_ALIAS)
    waiting = asyncio.wrap_future(attempt.future)
    # asyncio.wait, not wait_for: a timeout must not cancel the thread's future
    # (the thread still sets its result).
    done, _ = await asyncio.wait([waiting], timeout=seconds)
    if not done:
        # Retrieve the late outcome, so asyncio does not log it as never retrieved.
        waiting.add_done_callback(lambda late: late.cancelled() or late.exception())
        raise attempt.timed_out()
    return waiting.result()  # type: ignore[no-any-return]
