"""`casedesk run` caps a WebSocket frame at 64 KiB (uvicorn's ws_max_size): a bigger
frame closes the socket (1009, message too big) before the server buffers or parses it;
one under the cap but over a chat frame's 16,000 characters gets an error and the socket
stays open."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from casedesk.core.management.commands.run import WS_MAX_SIZE
from casedesk.core.tests.embedded import casedesk_command, embedded_environ, free_port, run_casedesk

pytestmark = pytest.mark.no_database  # a subprocess on its own embedded SQLite: the PostgreSQL pass skips it

# A customer of the demo with an open chat, and a login session for them (printed).
SET_UP = """
from django.conf import settings
from django.test import Client
from casedesk.accounts.models import User
from casedesk.chat.models import ChatSession
alice = User.objects.get(email="alice@acme.example")
chat = ChatSession.objects.create(customer=alice, organization=alice.organization)
client = Client()
client.force_login(alice)
print("CHAT", chat.pk, client.cookies[settings.SESSION_COOKIE_NAME].value)
"""


def _frame(size: int) -> str:
    """A JSON chat message of exactly ``size`` bytes."""
    empty = json.dumps({"type": "message", "body": ""})
    return json.dumps({"type": "message", "body": "x" * (size - len(empty))})


def test_casedesk_run_closes_a_socket_that_sends_a_frame_over_64_kib(tmp_path: Path) -> None:
    environ = embedded_environ(tmp_path)
    assert run_casedesk(environ, "migrate", "-v0").returncode == 0
    assert run_casedesk(environ, "demo").returncode == 0
    made = run_casedesk(environ, "shell", "-c", SET_UP)
    assert made.returncode == 0, made.stderr
    line = next(row for row in made.stdout.splitlines() if row.startswith("CHAT "))
    _, chat, session = line.split()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        casedesk_command(
            "run", "--port", str(port), "--smtp-port", str(free_port()), "--no-worker"
        ),
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=5):
                    break
            except OSError:
                time.sleep(0.3)
        with connect(
            f"ws://127.0.0.1:{port}/ws/chat/{chat}/",
            additional_headers={"Cookie": f"sessionid={session}", "Origin": base},
            open_timeout=10,
        ) as socket:
            assert json.loads(socket.recv(timeout=10))["type"] == "history"
            socket.send(_frame(WS_MAX_SIZE - 1024))  # under the cap: read, and refused
            assert json.loads(socket.recv(timeout=10)) == {
                "type": "error",
                "error": "Send JSON text frames, at most 16 kB.",
            }
            socket.send(_frame(WS_MAX_SIZE + 1))
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
