"""PostgreSQL connection options for the database timeouts and the connection pool
(settings ``CASEDESK_DB_*``).

Pure Python: ``settings.py`` builds the connection's options with it, and
:mod:`casedesk.core.deadline` builds shorter ones for a connection that must
answer within a deadline. Every value is in whole seconds; 0 turns a server
timeout off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PostgresTimeouts:
    connect: int
    keepalive_idle: int
    keepalive_interval: int
    keepalive_count: int
    statement: int  # 0: off
    lock: int  # 0: off
    idle_in_transaction: int  # 0: off


def server_settings(**seconds: int) -> str:
    """libpq's ``options``: server settings in seconds for the session, set as it starts.

    ``server_settings(statement_timeout=30)`` is ``-c statement_timeout=30000``.
    """
    return " ".join(f"-c {name}={value * 1000}" for name, value in seconds.items())


def postgresql_options(
    timeouts: PostgresTimeouts, given: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The connection's ``OPTIONS`` for Django's PostgreSQL backend (libpq parameters).

    Options ``given`` in ``DATABASE_URL``'s query win over these; server settings
    given there (``?options=-c ...``) come after ours, so they win too.
    """
    options: dict[str, object] = {
        "connect_timeout": timeouts.connect,
        "keepalives": 1,
        "keepalives_idle": timeouts.keepalive_idle,
        "keepalives_interval": timeouts.keepalive_interval,
        "keepalives_count": timeouts.keepalive_count,
        # How long sent data may stay unacknowledged before the connection is
        # dropped: keepalives only probe an idle connection, so a query sent into a
        # black-holed path would otherwise wait for the kernel's retransmissions
        # (about 15 minutes on Linux). In milliseconds.
        "tcp_user_timeout": (
            timeouts.keepalive_idle + timeouts.keepalive_interval * timeouts.keepalive_count
        )
        * 1000,
        "options": server_settings(
            statement_timeout=timeouts.statement,
            lock_timeout=timeouts.lock,
            idle_in_transaction_session_timeout=timeouts.idle_in_transaction,
        ),
    }
    given = dict(given or {})
    extra = str(given.pop("options", "") or "").strip()
    options.update(given)
    if extra:
        options["options"] = f"{options['options']} {extra}"
    return options


@dataclass(frozen=True)
class PoolSize:
    min: int
    max: int
    timeout: int  # seconds a caller waits for a free connection
    idle: int  # seconds an idle connection above ``min`` is kept
    lifetime: int  # seconds before a connection is replaced


def pool_options(size: PoolSize) -> dict[str, object]:
    """The ``pool`` entry of the connection's ``OPTIONS``: psycopg_pool.ConnectionPool's
    keyword arguments, which Django passes on."""
    return {
        "min_size": size.min,
        "max_size": size.max,
        "timeout": float(size.timeout),
        "max_idle": float(size.idle),
        "max_lifetime": float(size.lifetime),
        # While the server is away the pool retries in the background, doubling its
        # wait each time without limit: after a minute's outage it would next try a
        # minute after the server came back, and every page waited in vain meanwhile.
        # Giving up after the time a caller waits anyway lets the next caller start
        # a fresh attempt at once.
        "reconnect_timeout": float(size.timeout),
    }
