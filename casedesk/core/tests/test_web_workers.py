"""`casedesk run --web-workers N` serves the pages from N web processes (issue 18)."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from casedesk.core.tests.embedded import casedesk_command, copy_set_up, free_port, run_casedesk
from casedesk.core.tests.waiting import wait_until

pytestmark = pytest.mark.no_database  # subprocesses on their own embedded SQLite


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
def test_run_serves_from_several_web_processes_and_stops_them_all(
    migrated_set_up: Path, tmp_path: Path
) -> None:
    environ = copy_set_up(migrated_set_up, tmp_path)
    port = free_port()
    process = subprocess.Popen(
        casedesk_command(
            "run", "--no-worker", "--smtp-port", "0", "--port", str(port), "--web-workers", "2"
        ),
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/health/"), what="the web server")
        # uvicorn's supervisor and its two web processes (and the spawn helper, if any).
        wait_until(lambda: len(children(process.pid)) >= 2, what="two web processes")
        web = children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
        # Nothing it started outlives it (the web processes, multiprocessing's helper).
        wait_until(lambda: all(_state(pid) in "ZX" for pid in web), what="its processes to end")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _state(pid: int) -> str:
    """The process's state letter; X once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


@pytest.mark.parametrize("value", ["0", "-1", "65", "two", ""])
def test_run_refuses_a_web_workers_count_it_cannot_use(
    migrated_set_up: Path, tmp_path: Path, value: str
) -> None:
    environ = copy_set_up(migrated_set_up, tmp_path)
    result = run_casedesk(
        environ, "run", "--no-worker", "--smtp-port", "0", "--port", "1", "--web-workers", value
    )
    assert result.returncode != 0
    assert "--web-workers" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_web_processes_answer_without_waiting_for_nagle() -> None:
    """The socket the supervisor hands its web processes gives every accepted connection
    TCP_NODELAY, as the one-process server has: with Nagle's algorithm on, each response on
    a keep-alive connection waited for the client's delayed acknowledgement (~40 ms)."""
    import asyncio
    import socket

    import uvicorn

    from casedesk.core.management.commands.run import listening_socket

    listener = listening_socket(uvicorn.Config("casedesk.asgi:application", port=0))
    accepted: asyncio.Queue[int] = asyncio.Queue()

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            connection = transport.get_extra_info("socket")
            accepted.put_nowait(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def connect_once() -> int:
        server = await asyncio.get_running_loop().create_server(Report, sock=listener)
        async with server:
            host, port = listener.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            nodelay = await asyncio.wait_for(accepted.get(), timeout=10)
            writer.close()
            return nodelay

    assert listener.proto == socket.IPPROTO_TCP
    assert asyncio.run(connect_once()) != 0
