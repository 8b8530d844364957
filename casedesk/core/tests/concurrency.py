"""Tests of what happens when several processes do the same thing at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections

T = TypeVar("T")


def _own_connection() -> None:
    """Give this thread a connection outside the process's pool (issue 18): the threads
    stand for separate processes, each with its own connection, and more of them than one
    process's pool holds."""
    base = connections[DEFAULT_DB_ALIAS]
    options = {k: v for k, v in (base.settings_dict.get("OPTIONS") or {}).items() if k != "pool"}
    connections[DEFAULT_DB_ALIAS] = type(base)(
        {**base.settings_dict, "OPTIONS": options}, DEFAULT_DB_ALIAS
    )


def race(n: int, work: Callable[[], T]) -> list[T]:
    """Run ``work`` in ``n`` threads, each with its own database connection, released together."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            _own_connection()
            connection.ensure_connection()  # race the transactions, not the connects
            barrier.wait(timeout=30)
            result = work()
            with lock:
                results.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == n
    return results
