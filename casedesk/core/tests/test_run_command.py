"""`casedesk run` is the embedded default: one process serving the web pages and
running the task worker, on SQLite with nothing else installed."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from typing import Any

import pytest

from casedesk.core.tests.embedded import (
    casedesk_command,
    copy_set_up,
    embedded_environ,
    free_port,
    run_casedesk,
)

pytestmark = pytest.mark.no_database  # subprocesses on their own embedded SQLite: the PostgreSQL pass skips it


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@pytest.fixture
def embedded_env(tmp_path):
    return embedded_environ(tmp_path)


@pytest.fixture
def migrated_env(migrated_set_up, tmp_path):
    return copy_set_up(migrated_set_up, tmp_path)


def test_run_refuses_to_start_on_an_unmigrated_database(embedded_env):
    result = run_casedesk(embedded_env, "run", "--port", str(free_port()))
    assert result.returncode != 0
    assert "run `casedesk migrate` first" in result.stderr


def test_demo_is_idempotent_and_prints_the_logins(migrated_env):
    first = run_casedesk(migrated_env, "demo")
    second = run_casedesk(migrated_env, "demo")
    assert "created admin" in first.stdout
    assert "demo data already loaded" in second.stdout
    for login in (
        "(admin): admin@example.com / casedesk-demo",
        "(agent): agent@example.com / casedesk-demo",
        "(agent): agent2@example.com / casedesk-demo",
        "(customer): alice@acme.example / casedesk-demo",
        "(customer): bob@globex.example / casedesk-demo",
    ):
        assert f"demo login {login}" in second.stdout


def test_demo_refuses_production_mode_without_force(migrated_env):
    migrated_env.update(
        CASEDESK_DEBUG="0",
        SECRET_KEY="prod-" + "k3y" * 20,
        CASEDESK_BASE_URL="https://desk.example.com",
    )
    result = run_casedesk(migrated_env, "demo")
    assert result.returncode != 0
    assert "refusing to create demo logins" in result.stderr


def test_run_serves_pages_and_runs_the_worker_in_one_process(demo_set_up, tmp_path):
    embedded_env = copy_set_up(demo_set_up, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        # A free port for the SMTP receiver too: 2525 may be taken by a `make run`.
        casedesk_command("run", "--port", str(port), "--smtp-port", str(free_port())),
        env=embedded_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, body = get(f"{base}/health/")
                health = json.loads(body)
                if status == 200 and health["workers"]["alive"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health.get("workers", {}).get("alive"), f"no worker heartbeat: {health}"

        status, body = get(f"{base}/hours/")
        assert status == 200
        assert b"Support hours" in body
        status, body = get(f"{base}/api/hours/status")
        assert json.loads(body)["timezone"] == "America/Chicago"
        status, _ = get(f"{base}/static/core/casedesk.css")
        assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"support hours     {base}/hours/" in output
    assert "admin    admin@example.com    casedesk-demo" in output
    assert "customer bob@globex.example   casedesk-demo" in output
    assert f"log in            {base}/accounts/login/" in output
