"""`casedesk mailgate` as a mail server runs it: a real process reading stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from casedesk.cases.models import Case
from casedesk.core.tests.embedded import free_port
from casedesk.mail.models import InboundMessage, Source, State
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    """The URL of the test database this test uses, for the child process."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or "postgres"
    return f"postgres://{user}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def mailgate(raw: bytes, *args: str, tmp_path: Path, url: str | None = None) -> Any:
    env = {
        **os.environ,
        "DATABASE_URL": url or _database_url(),
        "CASEDESK_VAR_DIR": str(tmp_path),
        "CASEDESK_FILES_DIR": str(tmp_path / "files"),
    }
    return subprocess.run(
        [sys.executable, "-m", "casedesk", "mailgate", *args],
        input=raw,
        env=env,
        capture_output=True,
        timeout=60,
    )


def test_a_piped_message_is_stored_and_exits_0(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    result = mailgate(build("Printer"), "--sender", "alice@acme.example", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    stored = InboundMessage.objects.get()
    assert stored.source == Source.PIPE and stored.state == State.PENDING


def test_process_prints_one_line_saying_what_became_of_it(
    mail_setup: None, alice: Any, tmp_path: Path
) -> None:
    result = mailgate(build("[Critical] login fails"), "--process", tmp_path=tmp_path)
    case = Case.objects.get()
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == f"created {case.reference} Critical"
    again = mailgate(build(f"Re: [{case.reference}]", "More"), "--process", tmp_path=tmp_path)
    assert again.stdout.decode().strip() == f"replied {case.reference}"


def test_an_empty_message_is_refused_for_good_with_65(tmp_path: Path, db: None) -> None:
    result = mailgate(b"", tmp_path=tmp_path)
    assert result.returncode == 65
    assert b"empty" in result.stderr


def test_an_unreachable_database_exits_75_so_the_mail_server_retries(tmp_path: Path) -> None:
    url = f"postgres://nobody@127.0.0.1:{free_port()}/casedesk"
    result = mailgate(build("Down"), tmp_path=tmp_path, url=url)
    assert result.returncode == 75
    assert b"try again later" in result.stderr


def test_a_message_over_the_limit_exits_65(tmp_path: Path, db: None) -> None:
    env_limit = {"CASEDESK_MAIL_MAX_MB": "1"}
    raw = build("Huge", ("y" * 76 + "\n") * 20_000)
    result = subprocess.run(
        [sys.executable, "-m", "casedesk", "mailgate"],
        input=raw,
        env={
            **os.environ,
            **env_limit,
            "DATABASE_URL": _database_url(),
            "CASEDESK_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 65 and b"limit" in result.stderr
