"""run_limited: a pure function in a child process that is stopped at its deadline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casedesk.lib.limited import ChildFailed, TimeLimitExceeded, run_limited


def _add(a: int, b: int) -> int:
    return a + b


def _echo_large(size: int) -> bytes:
    return b"x" * size


def _spin_forever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        pass


def _fail() -> None:
    raise ValueError("bad input")


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def test_the_result_comes_back_from_the_child() -> None:
    assert run_limited(_add, 2, 3, seconds=30) == 5


def test_a_result_larger_than_a_pipe_buffer_comes_back_whole() -> None:
    assert run_limited(_echo_large, 5 * 2**20, seconds=30) == b"x" * (5 * 2**20)


def test_a_function_that_never_ends_is_killed_at_the_deadline(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(TimeLimitExceeded):
        run_limited(_spin_forever, str(pid_file), seconds=1)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped: no such process
        os.kill(pid, 0)


def test_an_exception_in_the_child_is_reported_with_its_message() -> None:
    with pytest.raises(ChildFailed, match="ValueError: bad input"):
        run_limited(_fail, seconds=30)


def test_the_child_cannot_take_more_memory_than_its_limit() -> None:
    with pytest.raises(ChildFailed, match="MemoryError"):
        run_limited(_allocate, 512, seconds=30, memory_mb=64)


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        run_limited(_add, 1, 2, seconds=0)
