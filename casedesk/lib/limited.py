"""Run a pure function in a forked child with a time limit and a memory limit.

A thread cannot be stopped, and the work this is for (sanitising hostile HTML with
``nh3``, which is Rust) does not look at Python's signals while it runs. A child
process can be killed. :func:`run_limited`:

1. forks (``os.fork``: no interpreter to start and nothing to re-import, so it costs
   milliseconds; the function and its arguments are the parent's own objects);
2. in the child, caps the address space (``RLIMIT_AS``: what it has now plus
   ``memory_mb``) and the CPU time (``RLIMIT_CPU``: the deadline plus one second, so a
   child whose parent died still ends), calls the function, writes the pickled result
   to a pipe and leaves with ``os._exit`` (no ``atexit``, no Django clean-up: the
   child shares the parent's database sockets and must never touch them);
3. in the parent, reads the pipe until the child closes it or the deadline passes;
   at the deadline it kills the child (SIGKILL) and raises :class:`TimeLimitExceeded`;
   a child that died (out of memory, a crash) raises :class:`ChildFailed`.

Only for pure functions (no database, no files, no locks shared with other threads):
the child is a copy of a possibly multi-threaded process, holding only the thread
that forked.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class LimitExceeded(Exception):
    """The child did not give a result (base class)."""


class TimeLimitExceeded(LimitExceeded):
    """The function ran past its deadline; the child was killed."""


class ChildFailed(LimitExceeded):
    """The child raised, ran out of memory or was killed by a signal."""


def run_limited(func: Callable[..., T], *args: Any, seconds: float, memory_mb: int = 1024) -> T:
    """``func(*args)`` in a child process, stopped after ``seconds`` (wall clock)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns on fork in a multi-threaded process: the child runs
        # only the pure function given here, then os._exit (see the module docstring).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its result is what the tests check
        os.close(read_end)
        _child(write_end, func, args, seconds, memory_mb)
    os.close(write_end)
    try:
        data = _read_until(read_end, time.monotonic() + seconds)
    except TimeLimitExceeded:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not data:
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            raise ChildFailed(f"the child was killed by {name} (out of memory or CPU time?)")
        raise ChildFailed(f"the child exited with status {os.waitstatus_to_exitcode(status)}")
    try:
        ok, value = pickle.loads(data)  # noqa: S301 - written by our own child
    except Exception as exc:
        raise ChildFailed(f"the child's answer was cut short ({exc})") from None
    if not ok:
        raise ChildFailed(value)
    return value  # type: ignore[no-any-return]


def _read_until(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeLimitExceeded("the time limit passed")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue  # loops back to the deadline check
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _child(  # pragma: no cover - runs in the child
    fd: int, func: Callable[..., Any], args: tuple[Any, ...], seconds: float, memory_mb: int
) -> None:
    code = 0
    try:
        # The parent's handlers (a worker's graceful SIGTERM) are not the child's.
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        try:
            cpu = int(seconds) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            with open("/proc/self/statm") as statm:
                used = int(statm.read().split()[0]) * _PAGE
            limit = used + memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (OSError, ValueError):
            pass  # not Linux: the deadline still holds
        try:
            answer = (True, func(*args))
        except BaseException as exc:  # reported to the parent
            answer = (False, "".join(traceback.format_exception_only(type(exc), exc)).strip())
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except BaseException:  # the parent sees no answer and says so
        code = 70
    finally:
        os._exit(code)
