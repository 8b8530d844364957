"""A TCP proxy a test owns, to put faults between casedesk and its database.

``FaultProxy(host, port)`` listens on a free port of 127.0.0.1 and forwards each
connection to the upstream. A test switches it between three modes:

- ``heal()``: pass traffic (the default);
- ``refuse()``: close new connections at once and cut the open ones, as a
  database that restarts does;
- ``blackhole()``: accept new connections and swallow what is sent on every
  connection, answering nothing, as a network path that silently drops packets
  does (the client waits until its own timeouts fire).

Threads only, no event loop: it is used from synchronous tests and beside a
worker or a server the test runs in threads or subprocesses.
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

PASS, REFUSE, BLACKHOLE = "pass", "refuse", "blackhole"


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = PASS
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._thread.start()

    # ---- switching faults ----
    def heal(self) -> None:
        self.mode = PASS

    def refuse(self) -> None:
        """Close new connections at once and cut every open one."""
        self.mode = REFUSE
        self._cut_all()

    def blackhole(self) -> None:
        """Answer nothing, on new and open connections alike, until healed."""
        self.mode = BLACKHOLE

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        self._cut_all()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- plumbing ----
    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = set(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.mode == REFUSE:
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._open.add(client)
        upstream: socket.socket | None = None
        try:
            while self.mode == BLACKHOLE and not self._stopping.is_set():
                # Hold the connection and read nothing back until healed.
                try:
                    if select.select([client], [], [], 0.1)[0] and not client.recv(65536):
                        return
                except ValueError:  # closed by refuse() from another thread
                    return
            if self.mode == REFUSE:
                return
            upstream = socket.create_connection(self.upstream, timeout=10)
            upstream.settimeout(None)
            with self._lock:
                self._open.add(upstream)
            self._pump(client, upstream)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    try:
                        sock.close()
                    except OSError:
                        pass

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select(list(peers), [], [], 0.1)
            except (OSError, ValueError):  # refuse() closed a socket from another thread
                return
            if self.mode == BLACKHOLE:
                # Swallow whatever arrives; forward nothing either way.
                for sock in readable:
                    if not sock.recv(65536):
                        return
                continue
            if self.mode == REFUSE:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
