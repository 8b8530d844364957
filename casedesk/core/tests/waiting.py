"""Waiting in tests: on the condition, with a deadline, never for a fixed time.

A fixed ``time.sleep`` is either too long (CI pays it every run) or, on a machine busy
with other work, too short (the test fails though nothing is wrong). Poll instead: the
wait ends as soon as the condition holds, and the deadline is only there to fail a test
that would otherwise hang, so make it generous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], seconds: float = 30, what: str = "", every: float = 0.05
) -> T:
    """Call ``condition`` until it returns something true, and return that.

    Fails the test (AssertionError naming ``what``) when ``seconds`` pass first. Uses the
    monotonic clock, which time-machine leaves alone, so it works under a frozen clock too.
    """
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:g} s waiting for {what or condition}")
        time.sleep(every)
