"""Run the real `casedesk` command in a subprocess on a throw-away embedded set-up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

# Variables the tests set themselves; anything inherited from the developer's
# shell or from CI (DATABASE_URL, REDIS_URL, ...) must not leak in.
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "EMAIL_URL",
    "ALLOWED_HOSTS",
    "CASEDESK_BASE_URL",
    "CASEDESK_DEBUG",
    "CASEDESK_VAR_DIR",
    "CASEDESK_FILES_DIR",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def embedded_environ(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a fresh embedded set-up (SQLite and var/ under tmp_path)."""
    environ = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    environ.update(
        CASEDESK_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'casedesk.sqlite3'}",
    )
    environ.update(overrides)
    return environ


def casedesk_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "casedesk", *args]


def run_casedesk(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        casedesk_command(*args),
        capture_output=True,
        text=True,
        env=environ,
        timeout=180,
        check=False,
    )


def database_options(tmp_path: Path, **environ: str) -> Any:
    """The database's OPTIONS as `casedesk` starts with ``environ`` (a dict), or the
    failed run (a CompletedProcess whose stderr names the bad variable)."""
    import json

    result = run_casedesk(
        embedded_environ(tmp_path, **environ),
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))",
    )
    if result.returncode:
        return result
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (servers started by tests and bench)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_set_up(template: Path, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A copy of a prepared embedded set-up (see the ``migrated_set_up`` and ``demo_set_up``
    fixtures) in ``tmp_path``, and its environment: migrating a fresh SQLite file takes
    seconds of CPU per test, copying one takes milliseconds."""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return embedded_environ(tmp_path, **overrides)


def prepare_set_up(root: Path, *commands: tuple[str, ...]) -> Path:
    """Run ``casedesk`` commands (each a tuple of arguments) on a fresh embedded set-up."""
    environ = embedded_environ(root)
    for command in commands:
        result = run_casedesk(environ, *command)
        assert result.returncode == 0, f"casedesk {' '.join(command)}: {result.stderr}"
    return root
