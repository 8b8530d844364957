"""Hold a database lock from a connection of the test's own, as a stuck process would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections


@contextmanager
def holding_write_lock(table: str, **settings: Any) -> Iterator[None]:
    """Block writes to ``table`` (on SQLite: to the whole database) until the block ends.

    SQLite has one write lock: ``BEGIN IMMEDIATE`` takes it. PostgreSQL locks per
    table: ``ACCESS EXCLUSIVE`` blocks every reader and writer of ``table``, as a
    migration rewriting it does. ``settings`` override the connection's (``HOST``,
    ``PORT``: reach the database around a fault proxy).
    """
    holder = connections.create_connection("default")
    holder.settings_dict = {**holder.settings_dict, **settings}
    try:
        with holder.cursor() as cursor:
            if holder.vendor == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            else:
                cursor.execute("BEGIN")
                table = holder.ops.quote_name(table)
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        try:
            with holder.cursor() as cursor:
                cursor.execute("ROLLBACK")
        finally:
            holder.close()
