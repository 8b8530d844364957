"""The fault proxy the database-fault tests put between casedesk and PostgreSQL."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from casedesk.core.tests.faultproxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _roundtrip(port: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"ping")
        return sock.recv(16)


def test_a_healed_proxy_passes_traffic_both_ways(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo) as proxy:
        assert _roundtrip(proxy.port) == b"ping"


def test_a_refusing_proxy_closes_new_connections_at_once(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo) as proxy:
        proxy.refuse()
        try:
            assert _roundtrip(proxy.port) == b""  # closed without an answer
        except ConnectionResetError:
            pass  # or reset: either way, no answer
        proxy.heal()
        assert _roundtrip(proxy.port) == b"ping"


def test_a_refusing_proxy_cuts_open_connections(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        sock.sendall(b"one")
        assert sock.recv(16) == b"one"
        proxy.refuse()
        try:
            sock.sendall(b"two")
            assert sock.recv(16) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass
        sock.close()


def test_a_black_holed_proxy_answers_nothing_until_healed(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo) as proxy:
        open_sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        open_sock.sendall(b"before")
        assert open_sock.recv(16) == b"before"
        proxy.blackhole()
        with pytest.raises(TimeoutError):
            _roundtrip(proxy.port, timeout=0.3)
        open_sock.settimeout(0.3)
        open_sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            open_sock.recv(16)
        proxy.heal()
        assert _roundtrip(proxy.port) == b"ping"
        open_sock.close()
