"""Pooled PostgreSQL connections (issue 18): settings make the pool, pages and tasks
reuse its connections, a forked lane never shares its parent's, and a connection that
a database restart broke is discarded rather than handed out."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from casedesk.core.dbpool import close_pools
from casedesk.core.tests.embedded import database_options, embedded_environ, run_casedesk
from casedesk.core.tests.faultproxy import FaultProxy
from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import proxy_to_test_database

POSTGRES = "postgres://casedesk@db.example.com:5432/casedesk"


@pytest.mark.no_database
def test_the_pool_is_sized_by_the_settings_and_keeps_the_timeouts(tmp_path: Path) -> None:
    options = database_options(
        tmp_path,
        DATABASE_URL=POSTGRES,
        CASEDESK_DB_POOL_MIN="2",
        CASEDESK_DB_POOL_MAX="7",
        CASEDESK_DB_POOL_TIMEOUT="3s",
        CASEDESK_DB_POOL_IDLE="2m",
        CASEDESK_DB_POOL_LIFETIME="30m",
        CASEDESK_DB_CONNECT_TIMEOUT="4s",
    )
    assert options["pool"] == {
        "min_size": 2,
        "max_size": 7,
        "timeout": 3.0,
        "max_idle": 120.0,
        "max_lifetime": 1800.0,
        "reconnect_timeout": 3.0,
    }
    # The pool opens its connections with these: the timeouts still apply.
    assert options["connect_timeout"] == 4
    assert "-c statement_timeout=30000" in options["options"]


@pytest.mark.no_database
def test_the_pool_is_on_by_default_on_postgresql_only(tmp_path: Path) -> None:
    assert database_options(tmp_path, DATABASE_URL=POSTGRES)["pool"]["max_size"] == 10
    assert "pool" not in database_options(tmp_path, DATABASE_URL=POSTGRES, CASEDESK_DB_POOL="0")
    assert "pool" not in database_options(tmp_path)  # SQLite


@pytest.mark.no_database
def test_behind_pgbouncer_nothing_outlives_a_transaction(tmp_path: Path) -> None:
    result = run_casedesk(
        embedded_environ(tmp_path, DATABASE_URL=POSTGRES, CASEDESK_DB_PGBOUNCER="1"),
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']))",
    )
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout.strip().splitlines()[-1])
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    # PgBouncer refuses the startup parameter that carries server settings.
    assert "options" not in database["OPTIONS"]
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert "pool" in database["OPTIONS"]


@pytest.mark.no_database
@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CASEDESK_DB_POOL": "sometimes"}, "CASEDESK_DB_POOL: expected a boolean"),
        ({"CASEDESK_DB_POOL_MAX": "lots"}, "CASEDESK_DB_POOL_MAX: expected a whole number"),
        ({"CASEDESK_DB_POOL_MAX": "0"}, "CASEDESK_DB_POOL_MAX: must be at least 1"),
        ({"CASEDESK_DB_POOL_MIN": "-1"}, "CASEDESK_DB_POOL_MIN: must be at least 0"),
        ({"CASEDESK_DB_POOL_MIN": "2\u00bd"}, "CASEDESK_DB_POOL_MIN: expected a whole number"),
        (
            {"CASEDESK_DB_POOL_MIN": "8", "CASEDESK_DB_POOL_MAX": "4"},
            "CASEDESK_DB_POOL_MAX: must be at least CASEDESK_DB_POOL_MIN (8), got 4",
        ),
        ({"CASEDESK_DB_POOL_TIMEOUT": "soon"}, "CASEDESK_DB_POOL_TIMEOUT: bad duration"),
        ({"CASEDESK_DB_POOL_TIMEOUT": "0s"}, "CASEDESK_DB_POOL_TIMEOUT:"),
        ({"CASEDESK_DB_POOL_IDLE": "-5s"}, "CASEDESK_DB_POOL_IDLE:"),
        ({"CASEDESK_DB_PGBOUNCER": "transaction"}, "CASEDESK_DB_PGBOUNCER: expected a boolean"),
        ({"CASEDESK_WEB_THREADS": "0"}, "CASEDESK_WEB_THREADS: must be at least 1"),
        ({"CASEDESK_WEB_THREADS": "4.5"}, "CASEDESK_WEB_THREADS: expected a whole number"),
    ],
)
def test_a_bad_pool_setting_stops_start_up_naming_it(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    result = database_options(tmp_path, DATABASE_URL=POSTGRES, **environ)
    assert result.returncode == 2, result.stderr
    assert f"casedesk: configuration error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


# ---- on a real PostgreSQL server -------------------------------------------------------


@pytest.fixture
def pooled(transactional_db: None) -> Iterator[Any]:
    """This test's database through a pool of its own (closed afterwards)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): the pool is PostgreSQL's")
    if not connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("the pool is off (CASEDESK_DB_POOL=0)")
    connections.close_all()
    close_pools()
    try:
        yield connection
    finally:
        connections.close_all()
        close_pools()


def pool_of(wrapper: Any) -> Any:
    return wrapper.pool


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return bool(cursor.fetchone()[0])


def test_a_pooled_connection_starts_with_the_database_timeouts(pooled: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        idle = cursor.fetchone()[0]
    assert pool_of(connection) is not None
    assert (statement, idle) == ("30s", "5min")


def test_closing_gives_the_connection_back_and_the_next_use_takes_it_again(
    pooled: Any,
) -> None:
    seen = {backend_pid()}
    for _ in range(10):
        connection.close()  # what the end of every request and task does
        seen.add(backend_pid())
    # The pool's minimum (opened in the background) and the one opened for the first
    # query while that was not ready yet: at most two sessions, not eleven.
    assert len(seen) <= 2
    assert pool_of(connection).get_stats()["connections_num"] <= 2


def test_pages_served_one_after_another_reuse_pooled_connections(
    pooled: Any, agent: Any, settings: Any
) -> None:
    import urllib.request

    from casedesk.chat.tests.conftest import cookie_for, serve_asgi

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    name, value = cookie_for(agent)
    requests = 12
    with serve_asgi() as base:
        for _ in range(requests):
            request = urllib.request.Request(
                f"{base}/desk/", headers={name.decode(): value.decode()}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                assert b"<html" in response.read()
        stats = pool_of(connection).get_stats()
    # Every page asked the pool for a connection; the pool opened one or two (its
    # minimum, and one while the test's own was out), not one per page.
    assert stats["requests_num"] >= requests
    assert stats["connections_num"] <= 3


def _child_backend(write_fd: int) -> None:
    """In a forked child: the backend pid of the first query, on the pipe; then exit."""
    code = 0
    try:
        os.write(write_fd, str(backend_pid()).encode())
    except BaseException as exc:
        os.write(write_fd, f"error {exc!r}".encode())
        code = 1
    finally:
        os._exit(code)


def test_a_forked_child_never_uses_its_parents_pooled_connection(pooled: Any) -> None:
    """Forked with the parent's connection checked out and the pool open (worse than
    the supervisor, which closes both first): the child's first query gets a server
    session of its own, and the parent's session outlives the child."""
    parent = backend_pid()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child_backend(write_fd)
    os.close(write_fd)
    answer = b""
    while chunk := os.read(read_fd, 256):
        answer += chunk
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, answer
    child = int(answer)
    assert child != parent
    assert backend_pid() == parent  # the parent's session still works
    wait_until(lambda: not alive(child), what="the child's session to end")
    assert alive(parent)


def test_the_supervisor_forks_lanes_with_no_pool(pooled: Any) -> None:
    """What the supervisor does before each fork: the pool is closed, the child opens
    its own; the parent's next query opens a new pool."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    backend_pid()
    connections.close_all()
    close_pools()
    assert "default" not in DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child_backend(write_fd)
    os.close(write_fd)
    answer = os.read(read_fd, 256)
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert int(answer) != backend_pid()


@pytest.fixture
def proxied_pool(pooled: Any) -> Iterator[FaultProxy]:
    """The pool's connections go through a FaultProxy."""
    settings_dict = connection.settings_dict
    host, port = settings_dict["HOST"], settings_dict["PORT"]
    with proxy_to_test_database() as proxy:
        settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
        connections.close_all()
        close_pools()  # the pool keeps the address it was made with
        try:
            yield proxy
        finally:
            proxy.heal()
            settings_dict["HOST"], settings_dict["PORT"] = host, port
            connections.close_all()
            close_pools()


def test_a_connection_broken_by_a_database_restart_is_discarded_not_handed_out(
    proxied_pool: FaultProxy,
) -> None:
    before = backend_pid()
    accepted = proxied_pool.accepted
    connection.close()  # back in the pool, idle
    proxied_pool.refuse()  # the server restarts: every open connection is cut
    proxied_pool.heal()  # and is back
    # The pool checks a connection before handing it out: the cut one is thrown away
    # and the query runs on a new one, with no error.
    after = backend_pid()
    assert after != before
    assert proxied_pool.accepted > accepted
    stats = pool_of(connection).get_stats()
    assert stats.get("connections_lost", 0) >= 1


def test_while_the_database_is_down_a_request_fails_within_the_pool_timeout(
    proxied_pool: FaultProxy, settings: Any
) -> None:
    """Not a hang: the request waits at most CASEDESK_DB_POOL_TIMEOUT for a connection,
    then fails, and the pool serves again once the database is back."""
    from django.db import OperationalError

    options = connection.settings_dict["OPTIONS"]
    connection.close()
    close_pools()
    connection.settings_dict["OPTIONS"] = {
        **options,
        "pool": {**options["pool"], "timeout": 1.0, "min_size": 0},
    }
    try:
        proxied_pool.refuse()
        started = time.monotonic()
        with pytest.raises(OperationalError):
            backend_pid()
        assert time.monotonic() - started < 20  # far below a hang, far above the timeout
        proxied_pool.heal()
        connection.close()
        wait_until(_answers, what="the pool to connect again")
    finally:
        connection.close()
        close_pools()
        connection.settings_dict["OPTIONS"] = options


def _answers() -> bool:
    try:
        backend_pid()
        return True
    except Exception:
        connection.close()
        return False


def test_deadline_connections_stay_out_of_the_pool(pooled: Any, settings: Any) -> None:
    """/health/ and the SMTP receiver cut their connection when the deadline passes: it
    must be one of their own, opened with the deadline's timeouts, never a pooled one."""
    from casedesk.core.deadline import bounded_connection, within

    options = bounded_connection(2).settings_dict["OPTIONS"]
    assert "pool" not in options
    assert "-c statement_timeout=2000" in options["options"]
    assert within(2, backend_pid) not in {backend_pid()}
    settings.DB_PGBOUNCER = True  # the deadline adds nothing PgBouncer would refuse
    behind = bounded_connection(2).settings_dict["OPTIONS"]
    assert "statement_timeout=2000" not in str(behind.get("options", ""))
