"""The SMTP receiver over real sockets: smtplib talks to aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError

from casedesk.cases.models import Case
from casedesk.core.tests.dblock import holding_write_lock
from casedesk.core.tests.embedded import free_port
from casedesk.core.tests.waiting import wait_until
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.smtp import Receiver, support_address
from casedesk.mail.tests.conftest import build, send_one

pytestmark = pytest.mark.django_db(transaction=True)


def _client(receiver: Receiver) -> smtplib.SMTP:
    return smtplib.SMTP(receiver.host, receiver.port, timeout=10)


def test_a_message_is_committed_before_the_250_and_becomes_a_case(
    receiver: Receiver, alice: Any, run_tasks: Any
) -> None:
    with _client(receiver) as client:
        client.ehlo("mx.acme.example")
        code, answer = client.mail("alice@acme.example")
        assert code == 250
        assert client.rcpt("support@example.com")[0] == 250
        code, answer = client.data(build("CRITICAL: checkout is down"))
        assert code == 250
        # 250 was said: the row is committed (this test's connection sees it).
        stored = InboundMessage.objects.get()
        assert answer.decode().endswith(f"stored as {stored.pk}")
    assert stored.envelope_from == "alice@acme.example" and stored.envelope_known
    run_tasks()
    case = Case.objects.get()
    assert case.priority.is_critical and case.requester == alice


def test_other_recipients_are_refused_with_550(receiver: Receiver, db: None) -> None:
    with _client(receiver) as client:
        client.ehlo()
        client.mail("alice@acme.example")
        code, answer = client.rcpt("someone@example.org")
    assert code == 550 and b"5.1.1" in answer
    assert not InboundMessage.objects.exists()


def test_a_plus_tag_on_the_support_address_is_accepted(receiver: Receiver, db: None) -> None:
    with _client(receiver) as client:
        client.ehlo()
        client.mail("alice@acme.example")
        assert client.rcpt("Support+acme@example.com")[0] == 250


def test_the_null_sender_of_a_bounce_is_kept_as_an_empty_envelope(
    receiver: Receiver, db: None
) -> None:
    with _client(receiver) as client:
        client.sendmail("<>", ["support@example.com"], build("Undelivered Mail"))
    stored = InboundMessage.objects.get()
    assert stored.envelope_from == "" and stored.envelope_known


def test_a_message_over_the_size_limit_is_refused_with_552(
    mail_setup: None, settings: Any, db: None
) -> None:
    settings.MAIL_MAX_BYTES = 50_000
    small = Receiver("127.0.0.1", free_port())
    small.start()
    try:
        with _client(small) as client:
            client.ehlo()
            client.mail("alice@acme.example")
            client.rcpt("support@example.com")
            code, _ = client.data(build("Big", ("x" * 70 + "\n") * 1200))
    finally:
        small.stop()
    assert code == 552
    assert not InboundMessage.objects.exists()


def test_a_database_outage_answers_451_and_the_retry_is_stored_once(
    receiver: Receiver, alice: Any, monkeypatch: Any, run_tasks: Any
) -> None:
    from casedesk.mail import smtp
    from casedesk.mail.store import store as real_store

    outage = {"on": True}

    def store_while_down(*args: Any, **kwargs: Any) -> Any:
        if outage["on"]:
            raise DatabaseError("could not connect to server: Connection refused")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(smtp, "store", store_while_down)
    raw = build("Please help", message_id="<retry@client.example>")
    with _client(receiver) as client:
        client.ehlo()
        client.mail("alice@acme.example")
        client.rcpt("support@example.com")
        code, answer = client.data(raw)
    assert code == 451 and b"4.3.0" in answer
    assert not InboundMessage.objects.exists()

    outage["on"] = False  # the sending server tries again later, twice for good measure
    for _ in range(2):
        with _client(receiver) as client:
            client.sendmail("alice@acme.example", ["support@example.com"], raw)
    run_tasks()
    assert InboundMessage.objects.count() == 1
    assert Case.objects.count() == 1


@contextmanager
def _smtpd(tmp_path: Any, **environ: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`casedesk smtpd` in a process of its own, listening on a free port."""
    port = free_port()
    env = {**os.environ, "CASEDESK_VAR_DIR": str(tmp_path), **environ}
    server = subprocess.Popen(
        [sys.executable, "-m", "casedesk", "smtpd", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        return not _refuses_connections("127.0.0.1", port)

    try:
        wait_until(listening, 60, "casedesk smtpd to listen")
        yield port, server
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(30)


def test_casedesk_smtpd_answers_451_while_its_database_is_unreachable(tmp_path: Any) -> None:
    """No stand-in: `casedesk smtpd` runs with a PostgreSQL address where nothing listens."""
    nowhere = f"postgres://nobody@127.0.0.1:{free_port()}/casedesk"
    with (
        _smtpd(tmp_path, DATABASE_URL=nowhere) as (port, _),
        smtplib.SMTP("127.0.0.1", port, timeout=30) as client,
    ):
        client.ehlo()
        client.mail("alice@acme.example")
        client.rcpt("support@example.com")
        code, answer = client.data(build("Down"))
    assert code == 451 and b"try again later" in answer


@pytest.mark.parametrize(
    "address, ours",
    [
        ("support@example.com", "support@example.com"),
        ("<SUPPORT@Example.COM>", "support@example.com"),
        ("support+tag@example.com", "support@example.com"),
        ("support@example.org", None),
        ("", None),
        ("no-at-sign", None),
        ("support@example.com@evil.example", None),
    ],
)
def test_support_address_recognises_only_ours(address: str, ours: str | None) -> None:
    assert support_address(address) == ours


def test_garbage_commands_get_errors_not_a_crash(receiver: Receiver, db: None) -> None:
    with socket.create_connection((receiver.host, receiver.port), timeout=5) as raw:
        greeting = raw.recv(1024)
        assert greeting.startswith(b"220")
        raw.sendall(b"\x00\xff\xfe garbage\r\nDATA\r\nMAIL FROM:<<<>>>\r\nQUIT\r\n")
        answers = b""
        while b"221" not in answers:
            chunk = raw.recv(4096)
            if not chunk:
                break
            answers += chunk
    assert b"500" in answers or b"501" in answers or b"503" in answers
    assert not InboundMessage.objects.filter(state=State.PENDING).exists()


def test_starttls_is_offered_when_a_certificate_is_configured(
    mail_setup: None, settings: Any, tmp_path: Any, alice: Any
) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip(
            "the openssl command is needed to make a test certificate (apt-get install openssl)"
        )
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY = str(cert), str(key)
    secure = Receiver("127.0.0.1", free_port())
    secure.start()
    try:
        with _client(secure) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            client.starttls(context=context)
            client.ehlo()
            code, _ = client.mail("alice@acme.example")
            assert code == 250
            client.rcpt("support@example.com")
            assert client.data(build("Over TLS"))[0] == 250
    finally:
        secure.stop()
    assert b"Subject: Over TLS" in bytes(InboundMessage.objects.get().raw)


def test_without_a_certificate_starttls_is_not_offered(receiver: Receiver) -> None:
    with _client(receiver) as client:
        client.ehlo()
        assert not client.has_extn("starttls")


def test_the_101st_recipient_of_a_message_is_refused_with_452(receiver: Receiver, db: None) -> None:
    with _client(receiver) as client:
        client.ehlo()
        client.mail("alice@acme.example")
        answers = [client.rcpt(f"support+{n}@example.com") for n in range(101)]
    assert {code for code, _ in answers[:100]} == {250}
    code, answer = answers[100]
    assert code == 452 and b"4.5.3" in answer


def test_a_database_locked_past_the_commit_deadline_answers_451_and_the_retry_is_stored_once(
    receiver: Receiver, alice: Any, settings: Any, run_tasks: Any
) -> None:
    """Not a hang, and not a 250 before the commit: the sender hears 451 and retries.

    Before the deadline, SQLite waited its 20 s busy timeout and PostgreSQL
    forever; the client here gives up after 15 s.
    """
    settings.SMTP_COMMIT_SECONDS = 1
    raw = build("Locked out", message_id="<locked@client.example>")
    with holding_write_lock("mail_inboundmessage"):
        code, answer = send_one(receiver.host, receiver.port, raw)
    assert code == 451 and b"4.3.0" in answer
    # The store that ran out of time may still commit once the lock is gone (a commit
    # racing the deadline lands after the 451: core/deadline.py says so, and a loaded
    # machine makes it happen); never twice, and the sender's retries add nothing.
    assert InboundMessage.objects.count() <= 1

    for _ in range(2):  # the sending server tries again later (twice, for good measure)
        assert send_one(receiver.host, receiver.port, raw)[0] == 250
    run_tasks()
    assert InboundMessage.objects.count() == 1
    assert Case.objects.count() == 1


def _refuses_connections(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return True
    return False


def _read_until_closed(sock: socket.socket) -> bytes:
    answers = b""
    while chunk := sock.recv(4096):
        answers += chunk
    return answers


def test_sessions_open_at_shutdown_hear_421_and_are_closed(mail_setup: None, db: None) -> None:
    running = Receiver("127.0.0.1", free_port())
    running.start()
    with socket.create_connection((running.host, running.port), timeout=10) as idle:
        assert idle.recv(1024).startswith(b"220")
        idle.sendall(b"EHLO mx.acme.example\r\nMAIL FROM:<alice@acme.example>\r\n")
        wait_until(lambda: b"250 OK" in idle.recv(4096, socket.MSG_PEEK), what="MAIL's answer")
        idle.recv(4096)
        stopping = threading.Thread(target=running.stop)
        stopping.start()
        answers = _read_until_closed(idle)  # returns once the receiver closed the connection
        stopping.join(30)
    assert answers.startswith(b"421 4.3.2"), answers
    assert not stopping.is_alive()
    assert _refuses_connections(running.host, running.port)


def test_a_message_being_committed_at_shutdown_is_answered_before_the_421(
    mail_setup: None, alice: Any, transactional_db: None
) -> None:

    running = Receiver("127.0.0.1", free_port())
    running.start()
    client = smtplib.SMTP(running.host, running.port, timeout=30)
    client.ehlo()
    client.mail("alice@acme.example")
    client.rcpt("support@example.com")
    answer: dict[str, Any] = {}
    stopping = threading.Thread(target=running.stop)
    with holding_write_lock("mail_inboundmessage"):
        sending = threading.Thread(
            target=lambda: answer.update(data=client.data(build("Committing at shutdown")))
        )
        sending.start()
        wait_until(lambda: any(s.committing for s in list(running.sessions)), what="the commit")
        stopping.start()
        wait_until(lambda: _refuses_connections(running.host, running.port), what="the receiver to stop listening")
    # The lock is gone: the commit lands and its answer goes out before the goodbye.
    sending.join(30)
    code, text = answer["data"]
    assert code == 250, text
    assert client.getreply()[0] == 421
    client.close()
    stopping.join(30)
    assert not stopping.is_alive()
    assert InboundMessage.objects.count() == 1


def test_casedesk_smtpd_answers_421_to_open_sessions_on_sigterm(tmp_path: Any) -> None:
    # The session below never reaches the database.
    with _smtpd(tmp_path) as (port, server):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert sock.recv(1024).startswith(b"220")
            sock.sendall(b"EHLO mx.acme.example\r\n")
            wait_until(lambda: b"250 " in sock.recv(4096, socket.MSG_PEEK), what="EHLO's answer")
            sock.recv(4096)
            server.send_signal(signal.SIGTERM)
            answers = _read_until_closed(sock)
        assert answers.startswith(b"421 4.3.2"), answers
        assert server.wait(30) == 0
