"""Fetching from IMAP: against a real Dovecot started for each test on 127.0.0.1.

The server gets a throw-away configuration (its own base_dir, a passwd-file with
one plain password, maildirs) in a temporary directory, and is stopped at
teardown. Messages reach it by IMAP APPEND, as a mail server would deliver them.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import OperationalError
from hypothesis import given
from hypothesis import strategies as st
from imapclient import IMAPClient

from casedesk.cases.models import Case, Channel
from casedesk.core.tests.embedded import free_port as _free_port
from casedesk.core.tests.waiting import wait_until
from casedesk.mail import imap
from casedesk.mail.models import InboundMessage, MailboxState, Source
from casedesk.mail.tests.conftest import build

DOVECOT = Path("/usr/sbin/dovecot")
USER = "support@example.com"
# Characters a URL must percent-encode, to show the password is decoded before LOGIN.
PASSWORD = "p@ss/w rd%#?&x"


def _users() -> tuple[str, str, str, int, int]:
    """(internal user, its group, login user, mail uid, mail gid) Dovecot may run as here.

    Not root: everything runs as us. Root: Dovecot refuses to run its login and mail
    processes as root, so they run as the users Debian's package creates.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_name, me.pw_uid, me.pw_gid
    try:
        internal, login = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
    except KeyError:
        pytest.skip("the dovecot and dovenull users are missing: install Debian's dovecot-imapd")
    group = grp.getgrgid(internal.pw_gid).gr_name
    return internal.pw_name, group, login.pw_name, internal.pw_uid, internal.pw_gid


class Dovecot:
    """One Dovecot process with its own configuration, mail and log under ``root``."""

    def __init__(
        self, root: Path, tls: tuple[Path, Path] | None = None, capability: str = ""
    ) -> None:
        self.root = root
        self.port = _free_port()
        self.tls_port = _free_port() if tls else 0
        internal, group, login, uid, gid = _users()
        mail = root / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        tls_settings = (
            f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}\n" if tls else "ssl = no\n"
        )
        self.config = root / "dovecot.conf"
        self.config.write_text(
            f"""
base_dir = {root}/run
state_dir = {root}/state
protocols = imap
listen = 127.0.0.1
{tls_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
log_path = {root}/dovecot.log
mail_location = maildir:{mail}/%u
mailbox_idle_check_interval = 1 secs
{"imap_capability = " + capability if capability else ""}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
# No chroots: they need root, and this server is a throw-away.
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
"""
        )
        (root / "state").mkdir()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = (self.root / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.config)], stdout=output, stderr=output
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.output()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def output(self) -> str:
        return "".join(
            path.read_text(errors="replace")
            for path in (self.root / "stdout.log", self.root / "dovecot.log")
            if path.exists()
        )

    def url(self, folder: str = "INBOX", query: str = "", *, scheme: str = "imap") -> str:
        port = self.tls_port if scheme == "imaps" else self.port
        return (
            f"{scheme}://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/"
            f"{quote(folder)}{'?' + query if query else ''}"
        )

    def mailbox(self, folder: str = "INBOX", query: str = "") -> imap.Mailbox:
        return imap.parse_mailbox(self.url(folder, query))

    def client(self) -> Any:
        """Our own session (as a customer's mail server or mail client would have)."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def capabilities(self) -> set[bytes]:
        """What the server announces after log-in."""
        client = self.client()
        try:
            return set(client.capabilities())
        finally:
            client.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        """Each message's flags in ``folder``, by UID."""
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search()
            found = client.fetch(uids, ["FLAGS"]) if uids else {}
            return [tuple(found[uid][b"FLAGS"]) for uid in sorted(found)]
        finally:
            client.logout()


@pytest.fixture
def server_root() -> Iterator[Path]:
    """A directory the Dovecot users can enter (pytest's tmp_path is private to its owner)."""
    if not DOVECOT.exists():
        pytest.skip(f"{DOVECOT} is missing: install Debian's dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="casedesk-dovecot-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _start(
    root: Path, tls: tuple[Path, Path] | None = None, capability: str = ""
) -> Iterator[Dovecot]:
    server = Dovecot(root, tls, capability)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot(server_root: Path) -> Iterator[Dovecot]:
    """A plain-text Dovecot (no TLS at all) on 127.0.0.1."""
    yield from _start(server_root)


@pytest.fixture
def old_dovecot(server_root: Path) -> Iterator[Dovecot]:
    """A Dovecot that announces (after log-in) neither MOVE nor IDLE, like older servers."""
    for server in _start(server_root, capability="IMAP4rev1 LITERAL+ UIDPLUS"):
        assert not server.capabilities() & {b"MOVE", b"IDLE"}
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (its own CA), and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is missing")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_dovecot(server_root: Path, certificate: tuple[Path, Path]) -> Iterator[Dovecot]:
    """A Dovecot offering STARTTLS on its imap port and TLS on its imaps port."""
    yield from _start(server_root, certificate)


@pytest.fixture
def fetch(dovecot: Dovecot, mail_setup: None) -> Callable[..., imap.Round]:
    """One round over a folder of the plain server, as `casedesk imap --once` does it."""

    def run(folder: str = "INBOX", query: str = "") -> imap.Round:
        return imap.fetch_once(dovecot.mailbox(folder, query))

    return run


def _state(folder: str = "INBOX") -> MailboxState:
    return MailboxState.objects.get(key=f"{USER}@127.0.0.1/{folder}")


# ---- Fetching ----


def test_a_fetched_message_is_stored_and_the_worker_opens_its_case(
    dovecot: Dovecot, fetch: Any, alice: Any, run_tasks: Any
) -> None:
    dovecot.append(build("CRITICAL: site down", "Nobody can log in."))
    assert fetch().stored == 1
    run_tasks()
    message = InboundMessage.objects.get()
    assert message.source == Source.IMAP and not message.envelope_known
    case = Case.objects.get()
    assert message.case == case and case.channel == Channel.EMAIL
    assert case.requester == alice and case.priority.is_critical


@pytest.mark.django_db
def test_nothing_is_fetched_twice_across_rounds(dovecot: Dovecot, fetch: Any) -> None:
    dovecot.append(build("First"))
    dovecot.append(build("Second"))
    assert fetch().stored == 2
    assert fetch().stored == 0
    dovecot.append(build("Third"))
    assert (fetch().stored, fetch().stored) == (1, 0)
    assert InboundMessage.objects.count() == 3
    assert _state().last_uid == 3 and _state().checked_at is not None
    # Without move=, messages stay in the folder, flagged \Seen.
    assert [b"\\Seen" in flags for flags in dovecot.flags()] == [True, True, True]


@pytest.mark.django_db
def test_processed_messages_move_to_a_folder_created_for_them(dovecot: Dovecot, fetch: Any) -> None:
    dovecot.append(build("Move me"))
    assert fetch(query="move=Processed").stored == 1
    assert dovecot.flags("INBOX") == []
    [flags] = dovecot.flags("Processed")
    assert b"\\Seen" in flags


@pytest.mark.django_db
def test_a_server_without_move_gets_copy_then_delete_and_expunge_of_that_uid(
    old_dovecot: Dovecot, mail_setup: None
) -> None:
    old_dovecot.append(build("Move me the old way"))
    assert imap.fetch_once(old_dovecot.mailbox(query="move=Processed")).stored == 1
    assert old_dovecot.flags("INBOX") == []
    [flags] = old_dovecot.flags("Processed")
    assert b"\\Seen" in flags and b"\\Deleted" not in flags


@pytest.mark.django_db
def test_a_store_that_fails_leaves_the_message_unseen_in_place_for_the_next_round(
    dovecot: Dovecot, fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(build("Database down"))

    def database_down(raw: bytes, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(imap, "store", database_down)
    with pytest.raises(OperationalError):
        fetch(query="move=Processed")
    [flags] = dovecot.flags("INBOX")
    assert b"\\Seen" not in flags
    assert _state().last_uid == 0 and not InboundMessage.objects.exists()

    monkeypatch.undo()
    assert fetch(query="move=Processed").stored == 1
    assert dovecot.flags("INBOX") == [] and len(dovecot.flags("Processed")) == 1


@pytest.mark.django_db
def test_a_crash_between_storing_and_marking_stores_the_message_once(
    dovecot: Dovecot, fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(build("Crash after commit"))

    def connection_lost(*args: Any) -> None:
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(imap, "mark", connection_lost)
    with pytest.raises(ConnectionResetError):
        fetch()
    assert InboundMessage.objects.count() == 1
    [flags] = dovecot.flags()
    assert b"\\Seen" not in flags and _state().last_uid == 0

    monkeypatch.undo()
    result = fetch()
    assert (result.stored, result.again) == (0, 1)
    assert InboundMessage.objects.count() == 1
    [flags] = dovecot.flags()
    assert b"\\Seen" in flags


@pytest.mark.django_db
def test_a_new_uidvalidity_fetches_the_folder_again_without_storing_twice(
    dovecot: Dovecot, fetch: Any
) -> None:
    first = build("Before the renumbering")
    for raw in (first, build("Two"), build("Three")):
        dovecot.append(raw, "Support")
    assert fetch("Support").stored == 3
    before = _state("Support").uidvalidity
    # The folder is recreated: new UIDVALIDITY, UIDs from 1 again (below our last_uid of 3).
    client = dovecot.client()
    client.delete_folder("Support")
    client.logout()
    dovecot.append(first, "Support")
    dovecot.append(build("After the renumbering"), "Support")

    result = fetch("Support")
    assert (result.stored, result.again) == (1, 1)
    state = _state("Support")
    assert state.uidvalidity != before and state.last_uid == 2
    assert InboundMessage.objects.count() == 4
    assert fetch("Support").stored == 0


@pytest.mark.django_db
def test_a_message_over_the_size_limit_is_left_recorded_and_passed_over(
    dovecot: Dovecot, fetch: Any, settings: Any
) -> None:
    settings.MAIL_MAX_BYTES = 5_000
    dovecot.append(build("Huge", "x" * 10_000))
    dovecot.append(build("Small"))
    result = fetch()
    assert (result.stored, result.too_large) == (1, [1])
    state = _state()
    assert state.last_uid == 2
    assert "UID 1" in state.last_error and "over the limit of 5,000" in state.last_error
    big, small = dovecot.flags()
    assert b"\\Seen" not in big and b"\\Seen" in small
    # Passed over for good: the next round neither retries it nor clears the record.
    assert fetch().too_large == [] and "UID 1" in _state().last_error


# ---- Security ----


@pytest.mark.django_db
def test_starttls_asked_of_a_server_without_it_refuses_before_sending_the_password(
    dovecot: Dovecot,
) -> None:
    mailbox = dovecot.mailbox(query="starttls=1")
    with pytest.raises(imap.InsecureConnection, match="does not offer STARTTLS"):
        imap.connect(mailbox)
    # Dovecot logs the disconnection asynchronously: wait for the line, not a fixed time.
    def disconnection_logged() -> str:
        log = dovecot.output()
        return log if "no auth attempts" in log else ""

    log = wait_until(disconnection_logged, what="Dovecot to log the disconnection")
    assert "Login:" not in log and USER not in log


def test_starttls_and_implicit_tls_log_in_with_a_private_ca(
    tls_dovecot: Dovecot, certificate: tuple[Path, Path], mail_setup: None, db: None
) -> None:
    tls_dovecot.append(build("Over TLS"))
    cafile = f"cafile={quote(str(certificate[0]))}"
    starttls = imap.parse_mailbox(tls_dovecot.url(query=f"starttls=1&{cafile}"))
    assert imap.fetch_once(starttls).stored == 1
    implicit = imap.parse_mailbox(tls_dovecot.url(query=cafile, scheme="imaps"))
    assert implicit.security == "tls" and imap.fetch_once(implicit).stored == 0
    logins = [line for line in tls_dovecot.output().splitlines() if "Login: user=" in line]
    # The first log-in is the test's own plain APPEND; ours are the two after it.
    assert len(logins) == 3 and ["TLS" in line for line in logins] == [False, True, True]


def test_a_certificate_nobody_vouches_for_is_refused_before_log_in(
    tls_dovecot: Dovecot, mail_setup: None, db: None
) -> None:
    for mailbox in (
        imap.parse_mailbox(tls_dovecot.url(scheme="imaps")),
        imap.parse_mailbox(tls_dovecot.url(query="starttls=1")),
    ):
        with pytest.raises(ssl.SSLCertVerificationError):
            imap.connect(mailbox)
    assert "Login:" not in tls_dovecot.output()


@pytest.mark.parametrize(
    "url", ["imap://u:secret@mail.example.com/INBOX", "imap://u:secret@10.0.0.5:143/INBOX"]
)
def test_plain_text_login_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="plain-text IMAP login is only allowed to this machine"):
        imap.parse_mailbox(url)
    with pytest.raises(ValueError, match="only allowed to this machine"):
        imap.Mailbox(host="mail.example.com", user="u", password="secret", security="plain")


# ---- URLs ----


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imaps://support%40example.com:p%40ss%2Fw%20rd@imap.example.com/INBOX?move=Processed",
            imap.Mailbox(
                host="imap.example.com", user="support@example.com", password="p@ss/w rd",
                security="tls", port=993, folder="INBOX", move_to="Processed",
            ),
        ),
        (
            "imap://u:pw@IMAP.Example.com/Support/Urgent?starttls=1",
            imap.Mailbox(
                host="imap.example.com", user="u", password="pw", security="starttls",
                port=143, folder="Support/Urgent",
            ),
        ),
        (
            "imap://u:pw@127.0.0.1:1143",
            imap.Mailbox(host="127.0.0.1", user="u", password="pw", security="plain", port=1143),
        ),
        (
            "imap://u:pw@[::1]/INBOX?starttls=0",
            imap.Mailbox(host="::1", user="u", password="pw", security="plain", port=143),
        ),
    ],
)  # fmt: skip
def test_mailbox_urls_parse_to_their_parts(url: str, expected: imap.Mailbox) -> None:
    mailbox = imap.parse_mailbox(url)
    assert mailbox == expected and mailbox.password == expected.password
    assert expected.password not in repr(mailbox) and expected.password not in mailbox.label


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "must start with imaps:// or imap://"),
        ("support@example.com", "must start with imaps:// or imap://"),
        ("https://u:hunter2@imap.example.com/INBOX", "must start with imaps://"),
        ("imaps://imap.example.com/INBOX", "needs user:password@host"),
        ("imaps://u@imap.example.com/INBOX", "needs user:password@host"),
        ("imaps://:hunter2@imap.example.com/", "needs user:password@host"),
        ("imaps://u:@imap.example.com/", "needs user:password@host"),
        ("imaps://u:hunter2@/INBOX", "needs user:password@host"),
        ("imaps://u:hunter2@imap.example.com:99999/", "not a valid URL"),
        ("imaps://u:hunter2@imap.example.com:imap/", "not a valid URL"),
        ("imaps://u:hunter2@imap.example.com:0/", "port 0 is out of range"),
        ("imaps://u:hunter2@[::1/INBOX", "not a valid URL"),
        ("imaps://u:hunter2@imap.example.com/INBOX?starttls=1", "starttls= is for imap://"),
        ("imap://u:hunter2@imap.example.com/INBOX?starttls=maybe", "must be 1 or 0"),
        ("imap://u:hunter2@imap.example.com/INBOX?starttls", "query string is malformed"),
        ("imap://u:hunter2@imap.example.com/INBOX", "only allowed to this machine"),
        ("imaps://u:hunter2@imap.example.com/INBOX?folder=x", "unknown option 'folder'"),
        ("imaps://u:hunter2@imap.example.com/INBOX?move=", "move= needs a folder"),
        ("imaps://u:hunter2@imap.example.com/INBOX?move=A&move=B", "given twice"),
        ("imaps://u:hunter2@imap.example.com/INBOX?move=INBOX", "names the folder being fetched"),
        ("imaps://u:hunter2@imap.example.com/INBOX#x", "must not have a #fragment"),
        ("imaps://u:hunter2@imap.example.com/IN%0ABOX", "contains a control character"),
        ("imaps://u:hunter2@imap.example.com/INBOX?move=%00", "contains a control character"),
        ("imaps://u:hunter2@imap.example.com/INBOX?cafile=/nonexistent/ca.pem", "is not a file"),
        ("imaps://u:hunter2@imap.example.com/INBOX?cafile=", "cafile= needs a path"),
    ],
)
def test_bad_mailbox_urls_are_refused_naming_the_problem_not_the_password(
    url: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem.replace("?", r"\?")) as refused:
        imap.parse_mailbox(url)
    assert "hunter2" not in str(refused.value)


@given(st.text(max_size=200))
def test_any_text_is_a_mailbox_or_a_value_error(text: str) -> None:
    try:
        imap.parse_mailbox(text)
    except ValueError:
        pass


_printable = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)


@given(user=_printable, password=_printable)
def test_percent_encoded_credentials_decode_to_what_was_encoded(user: str, password: str) -> None:
    url = f"imaps://{quote(user, safe='')}:{quote(password, safe='')}@imap.example.com/INBOX"
    mailbox = imap.parse_mailbox(url)
    assert (mailbox.user, mailbox.password) == (user, password)


def test_one_bad_url_among_several_is_named_by_its_position() -> None:
    urls = ["imaps://u:pw@imap.example.com/INBOX", "imaps://u:hunter2@imap.example.com:x/"]
    with pytest.raises(ValueError, match="mailbox 2: not a valid URL"):
        imap.parse_mailboxes(urls)
    with pytest.raises(ValueError, match="same folder twice"):
        imap.parse_mailboxes([urls[0], urls[0]])


def test_the_system_check_reports_a_bad_mailbox_url_without_its_password(settings: Any) -> None:
    settings.IMAP_MAILBOXES = ["imaps://u:hunter2@imap.example.com/INBOX?move=INBOX"]
    [error] = imap.check_mailboxes()
    assert error.id == "mail.E010" and "names the folder being fetched" in error.msg
    assert "hunter2" not in error.msg
    settings.IMAP_MAILBOXES = ["imaps://u:hunter2@imap.example.com/INBOX"]
    assert imap.check_mailboxes() == []


# ---- The command and the long-running watcher ----


@pytest.mark.django_db
def test_imap_once_prints_how_many_each_mailbox_stored(
    dovecot: Dovecot, mail_setup: None, settings: Any
) -> None:
    dovecot.append(build("One"))
    dovecot.append(build("Two"), "Support")
    settings.IMAP_MAILBOXES = [dovecot.url(), dovecot.url("Support", "move=Done")]
    out = StringIO()
    call_command("imap", "--once", stdout=out)
    assert out.getvalue().splitlines() == [
        f"{USER}@127.0.0.1:{dovecot.port}/INBOX: 1 stored",
        f"{USER}@127.0.0.1:{dovecot.port}/Support: 1 stored",
    ]


@pytest.mark.django_db
def test_imap_once_exits_1_and_records_the_problem_when_a_mailbox_fails(
    dovecot: Dovecot, mail_setup: None, settings: Any
) -> None:
    settings.IMAP_MAILBOXES = [dovecot.url(query="starttls=1")]
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("imap", "--once", stderr=err)
    assert exited.value.code == 1
    assert "does not offer STARTTLS" in err.getvalue()
    assert "does not offer STARTTLS" in _state().last_error


@pytest.mark.parametrize(
    ("mailboxes", "message"),
    [
        (["imap://u:hunter2@mail.example.com/INBOX"], "mailbox 1: plain-text IMAP login"),
        ([], "no mailboxes: set CASEDESK_IMAP_MAILBOXES"),
    ],
)
def test_imap_exits_2_on_a_bad_configuration_before_connecting(
    mailboxes: list[str], message: str, settings: Any
) -> None:
    settings.IMAP_MAILBOXES = mailboxes
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("imap", stderr=err)
    assert exited.value.code == 2
    assert message in err.getvalue() and "hunter2" not in err.getvalue()


def _until(condition: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextmanager
def watching(mailbox: imap.Mailbox, **options: Any) -> Iterator[None]:
    """:func:`imap.watch` in a thread, as `casedesk imap` runs it; the first round done.

    Stopping it at the end must end the thread within seconds.
    """
    stop = threading.Event()
    watcher = threading.Thread(target=imap.watch, args=(mailbox, stop), kwargs=options)
    watcher.start()
    try:
        assert _until(lambda: MailboxState.objects.filter(checked_at__isnull=False).exists())
        yield
    finally:
        stop.set()
        watcher.join(5)
    assert not watcher.is_alive()


def test_idle_fetches_new_mail_within_seconds_and_stop_ends_the_watcher(
    dovecot: Dovecot, mail_setup: None, transactional_db: None
) -> None:
    # Polling every 10 minutes: only IDLE can bring the message in time.
    with watching(dovecot.mailbox(), poll=timedelta(minutes=10)):
        dovecot.append(build("Arrives while idling"))
        assert _until(lambda: InboundMessage.objects.exists(), seconds=10)


def test_without_idle_the_watcher_polls_at_its_interval(
    old_dovecot: Dovecot, mail_setup: None, transactional_db: None
) -> None:
    with watching(old_dovecot.mailbox(), poll=timedelta(seconds=0.5)):
        old_dovecot.append(build("Found by polling"))
        assert _until(lambda: InboundMessage.objects.exists(), seconds=10)


def test_the_watcher_reconnects_after_the_server_restarts(
    dovecot: Dovecot, mail_setup: None, transactional_db: None
) -> None:
    with watching(dovecot.mailbox(), poll=timedelta(minutes=10), first_delay=0.2, max_delay=1.0):
        dovecot.stop()
        assert _until(lambda: MailboxState.objects.exclude(last_error="").exists())
        dovecot.start()
        dovecot.append(build("After the restart"))
        assert _until(lambda: InboundMessage.objects.exists())
