"""The PostgreSQL connection pools of this process, and forking safely beside them.

Django keeps one psycopg pool per database alias and process (``settings.py`` turns
it on with ``CASEDESK_DB_POOL``). A pool holds open sockets to the server and runs
threads of its own, so a forked child must never use its parent's: two processes
writing on one socket interleave their messages, and a child that merely closed an
inherited connection would end the parent's session on the server.

1. Before forking, :func:`close_pools` closes this process's pools (their connections
   and threads); the parent opens a new pool at its next query.
2. In the child, the fork hook below forgets any pool that was still there, and the
   connection the forking thread held, without closing them (that would end the
   parent's sessions), and keeps them referenced so that garbage collection never
   closes them either. The child's first query opens its own.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper

logger = logging.getLogger("casedesk.core.dbpool")

# Pools a forked child inherited: never used, never closed, never collected.
_inherited: list[Any] = []


def _pools() -> dict[str, Any]:
    return DatabaseWrapper._connection_pools  # type: ignore[attr-defined, no-any-return]


def close_pools() -> None:
    """Close every connection pool of this process (the next query opens a new one)."""
    pools = _pools()
    for alias in list(pools):
        pool = pools.pop(alias, None)
        if pool is None:
            continue
        try:
            pool.close()
        except Exception:  # a pool whose server went away still lets go of its threads
            logger.warning("closing the connection pool of %r failed", alias, exc_info=True)


def _forget_pools_in_child() -> None:
    pools = _pools()
    if pools:
        _inherited.extend(pools.values())
        pools.clear()
    # A connection the forking thread had checked out (or opened) is the parent's too.
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None
            if wrapper.in_atomic_block:
                wrapper.closed_in_transaction = True
                wrapper.needs_rollback = True


os.register_at_fork(after_in_child=_forget_pools_in_child)
