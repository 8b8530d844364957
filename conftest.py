"""Fixtures shared by every test: see each app's tests/ for the rest."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

REPO = Path(__file__).resolve().parent
CORPORA = REPO.parent / "shared" / "corpora"

# Hypothesis tests assert behaviour, never timings: its default 200 ms deadline per example
# and its too-slow health check measure the machine, and failed runs on a loaded one.
hypothesis_settings.register_profile(
    "casedesk", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("casedesk")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs ``-n auto``), give each worker its own Redis db.

    pytest-django already gives each worker its own test database (``_gw0``, ``_gw1``, ...).
    Redis needs the same: ``cache.clear()`` empties the whole Redis database, so a worker
    sharing one would wipe another's rate-limit counters and cached pages mid-test. Worker
    ``gwN`` uses database (REDIS_URL's + N); subprocesses the tests start inherit it.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and os.environ.get("REDIS_URL"):
        _use_redis_db(os.environ["REDIS_URL"], int(worker.removeprefix("gw")))


# Fixtures that reach the test database: a test marked no_database must use none of them.
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "run_tasks"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check the ``no_database`` promises: CI's PostgreSQL pass skips those tests, so one
    that did reach the database would never be run against PostgreSQL."""
    for item in items:
        if item.get_closest_marker("no_database") is None:
            continue
        fixtures = set(getattr(item, "fixturenames", ())) & DATABASE_FIXTURES
        if fixtures or item.get_closest_marker("django_db") is not None:
            raise pytest.UsageError(
                f"{item.nodeid} is marked no_database but uses the database "
                f"({', '.join(sorted(fixtures)) or 'django_db'})"
            )


def _use_redis_db(url: str, offset: int) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    from casedesk.settings import redis_channel_layer

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise pytest.UsageError(f"REDIS_URL: use redis:// with pytest -n, not {parts.scheme}://")
    number = int(parts.path.strip("/") or 0) + offset
    if number > 15:
        raise pytest.UsageError(
            f"REDIS_URL: worker {offset} would need Redis database {number} (0-15): "
            "start from a lower database or run fewer workers"
        )
    mine = parts._replace(path=f"/{number}").geturl()
    os.environ["REDIS_URL"] = mine
    cache = {**settings.CACHES["default"], "LOCATION": mine}
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    if layer["BACKEND"] == "channels_redis.core.RedisChannelLayer":
        layer = redis_channel_layer(mine, layer["CONFIG"]["prefix"])
    # For the whole run: override_settings tells Django's cache handler to reconnect.
    run_wide = override_settings(
        REDIS_URL=mine, CACHES={"default": cache}, CHANNEL_LAYERS={"default": layer}
    )
    run_wide.enable()
@pytest.fixture(scope="session", autouse=True)
def dns_server() -> Iterator[Any]:
    """A DNS server on 127.0.0.1 for every test process (mail/tests/dnsserver.py): the
    sender checks (SPF, DKIM, DMARC) ask it, never the internet. Subprocesses the tests
    start inherit CASEDESK_MAIL_DNS_SERVERS. Tests publish records through ``dns_zone``
    (mail/tests/conftest.py); with nothing published every name is NXDOMAIN."""
    from django.test.utils import override_settings

    from casedesk.mail.tests.dnsserver import DNSServer

    server = DNSServer().start()
    previous = os.environ.get("CASEDESK_MAIL_DNS_SERVERS")
    os.environ["CASEDESK_MAIL_DNS_SERVERS"] = server.address
    run_wide = override_settings(MAIL_DNS_SERVERS=[server.address])
    run_wide.enable()
    yield server
    run_wide.disable()
    if previous is None:
        os.environ.pop("CASEDESK_MAIL_DNS_SERVERS", None)
    else:
        os.environ["CASEDESK_MAIL_DNS_SERVERS"] = previous
    server.stop()


@pytest.fixture
def dns_zone(dns_server: Any) -> Iterator[Any]:
    """The test DNS server's zone, empty, for this test (emptied again after, and our
    resolver's cache with it): ``dns_zone.publish_spf("acme.example", "v=spf1 ... -all")``,
    ``publish_dkim(domain, selector, public_key)``, ``publish_dmarc(domain, record)``, or
    ``dns_zone.blackhole = True`` / ``dns_zone.servfail = True``. Sign messages with
    ``dnsserver.DkimKey``."""
    from casedesk.lib.dnsresolver import clear_caches

    dns_server.zone.clear()
    clear_caches()
    yield dns_server.zone
    dns_server.zone.clear()
    clear_caches()


@pytest.fixture(scope="session", autouse=True)
def _no_statement_timeout_making_test_databases() -> Iterator[None]:
    """CREATE and DROP DATABASE wait for a checkpoint, which on a busy machine outlasts
    CASEDESK_DB_STATEMENT_TIMEOUT (30 s): pytest-django's set-up and teardown of the
    test database lift it on their maintenance connection only (tests keep it)."""
    from contextlib import contextmanager

    from django.db.backends.postgresql.base import DatabaseWrapper

    original = DatabaseWrapper._nodb_cursor

    @contextmanager
    def nodb_cursor(self: Any) -> Iterator[Any]:
        with original(self) as cursor:
            cursor.execute("SET statement_timeout = 0")
            yield cursor

    DatabaseWrapper._nodb_cursor = nodb_cursor  # type: ignore[method-assign]
    yield
    DatabaseWrapper._nodb_cursor = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django's test databases, made cheap to empty and commit to on PostgreSQL.

    After each transactional test (each ``run_tasks`` user) Django empties every table
    with one TRUNCATE, which replaces each table's and index's files, and every commit
    waited for an fsync: on a busy machine that cost 2-5 s a test (60 status tests: 4
    minutes, 16 s of it CPU). Two changes, for the test databases only:
    - flush with DELETE (the tables hold a few rows; Django's foreign keys are
      DEFERRABLE INITIALLY DEFERRED, so the order does not matter in one transaction);
    - synchronous_commit off: a test database need not survive a crash, and what a query
      sees is the same. Set on the database, so `casedesk` subprocesses get it too.
    """
    from django.db import connections

    _flush_postgresql_with_delete()
    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            name = connection.settings_dict["NAME"]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"ALTER DATABASE {connection.ops.quote_name(name)} SET synchronous_commit = off"
                )
            connection.close()  # the setting applies to the sessions that start from now
        # Pooled connections opened before the ALTER keep the old setting: start afresh.
        from casedesk.core.dbpool import close_pools

        close_pools()


def _flush_postgresql_with_delete() -> None:
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(
        self: Any,
        style: Any,
        tables: Sequence[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or allow_cascade:  # what only TRUNCATE does
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # One statement list, one round trip to the server.
        return [" ".join(f"DELETE FROM {self.quote_name(table)};" for table in tables)]  # noqa: S608

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    """Each test's database starts from the migrations: forget clocks built from another's."""
    from casedesk.hours.services import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def _fresh_status_version() -> Iterator[None]:
    """Each test's database has its own status page: forget the version this process read."""
    from casedesk.status.caching import forget_version

    forget_version()
    yield
    forget_version()


@pytest.fixture
def steady_status_version(settings: Any) -> None:
    """For tests that compare the queries of two page loads: every page reads the status
    page's version, remembered for STATUS_VERSION_TTL (1 s); on a loaded machine the work
    between the two loads outlasts it and the second load reads it again."""
    settings.STATUS_VERSION_TTL = 60


@pytest.fixture
def calendars(django_db_blocker: Any) -> None:
    """The calendars the migrations seed, for transactional tests (whose flush removes them)."""
    from casedesk.hours.defaults import ensure_calendars

    with django_db_blocker.unblock():
        ensure_calendars()


@pytest.fixture
def help_articles(django_db_blocker: Any) -> None:
    """The help articles the migrations seed, for transactional tests (whose flush removes them)."""
    from casedesk.help.seed import ensure_articles

    with django_db_blocker.unblock():
        ensure_articles()


@pytest.fixture(scope="session")
def migrated_set_up(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded set-up (SQLite file and var/) migrated once per session and worker.

    Tests that run `casedesk` subprocesses copy it (``embedded.copy_set_up``) rather than
    migrate their own; never change it in place.
    """
    from casedesk.core.tests.embedded import prepare_set_up

    return prepare_set_up(tmp_path_factory.mktemp("migrated"), ("migrate", "-v0"))


@pytest.fixture(scope="session")
def demo_set_up(migrated_set_up: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``migrated_set_up``, with `casedesk demo` run on it."""
    from casedesk.core.tests.embedded import copy_set_up, prepare_set_up

    root = tmp_path_factory.mktemp("demo")
    copy_set_up(migrated_set_up, root)
    return prepare_set_up(root, ("demo",))


@pytest.fixture
def corpora() -> Path:
    """Real-world test material beside the project (never committed into it)."""
    if not CORPORA.is_dir():
        pytest.skip(f"test corpora not found at {CORPORA} (they live in ../shared/corpora/)")
    return CORPORA


# ---- Named people (STYLE.md): tenant isolation tests in every app use these ----
# Log the named people in with client.force_login(person): client.login() cannot pass the
# request django-axes needs. PASSWORD is for tests that go through the log-in form.
PASSWORD = "correct-horse-battery-9"  # noqa: S105 - test accounts only


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """A full-strength hash costs ~0.3 s per log-in; tests log in hundreds of times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def acme(db: None) -> Any:
    from casedesk.accounts.models import Organization, OrganizationDomain

    organization = Organization.objects.create(name="Acme", account_number="10042001")
    OrganizationDomain.objects.create(organization=organization, domain="acme.example")
    return organization


@pytest.fixture
def globex(db: None) -> Any:
    from casedesk.accounts.models import Organization, OrganizationDomain

    organization = Organization.objects.create(name="Globex", account_number="10042002")
    OrganizationDomain.objects.create(organization=organization, domain="globex.example")
    return organization


def _person(email: str, role: str, organization: Any = None, name: str = "") -> Any:
    from casedesk.accounts.models import User

    return User.objects.create_user(
        email, PASSWORD, role=role, organization=organization, full_name=name
    )


@pytest.fixture
def alice(acme: Any) -> Any:
    """A customer at Acme."""
    return _person("alice@acme.example", "customer", acme, "Alice Example")


@pytest.fixture
def bob(globex: Any) -> Any:
    """A customer at Globex: must never see Acme's data."""
    return _person("bob@globex.example", "customer", globex, "Bob Example")


@pytest.fixture
def agent(db: None) -> Any:
    """A support agent of the vendor."""
    return _person("agent@example.com", "agent", name="Sam Agent")


@pytest.fixture
def desk(agent: Any) -> Any:
    """A browser logged in as Sam the agent (every app's desk pages use it)."""
    from django.test import Client

    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def admin_user(db: None) -> Any:
    """An admin of the vendor (overrides pytest-django's, so its admin_client is this one)."""
    return _person("admin@example.com", "admin", name="Avery Admin")


@pytest.fixture
def admin(admin_user: Any) -> Any:
    """The named admin (STYLE.md's named people): the same person as ``admin_user``."""
    return admin_user


@pytest.fixture
def run_tasks(transactional_db: None) -> Any:
    """Run every queued task now with the real worker, as `casedesk worker` would.

    The worker commits and closes connections like the real process, so tests
    that use it run in transactional mode (each task sees committed rows only).
    """
    from casedesk.core.worker import CasedeskWorker

    def run() -> None:
        CasedeskWorker(batch=True, interval=0).run_forever()

    return run


# ---- Cases: priorities and a case helper ----


@pytest.fixture
def priorities(django_db_blocker: Any) -> dict[str, Any]:
    """The shipped priorities by name (re-seeded for transactional tests, whose flush removes
    them), e.g. ``priorities["Critical"]``."""
    from casedesk.cases.defaults import ensure_priorities
    from casedesk.cases.models import Priority

    with django_db_blocker.unblock():
        ensure_priorities()
        return {p.name: p for p in Priority.objects.all()}


@pytest.fixture
def open_case(priorities: dict[str, Any], calendars: None, settings: Any, tmp_path: Path) -> Any:
    """Open a case through the one entry point: ``open_case(alice, "Medium", subject=...)``.

    Critical cases get characteristic (c) and an impact statement unless given.
    Attachments are written under the test's own temporary folder.
    """
    from casedesk.cases import services

    settings.MEDIA_ROOT = tmp_path / "files"

    def make(requester: Any, priority: str = "Medium", **fields: Any) -> Any:
        chosen = priorities[priority]
        if chosen.is_critical:
            fields.setdefault("characteristics", "c")
            fields.setdefault("business_impact", "Nobody at the company can log in.")
        fields.setdefault("subject", f"{priority} problem")
        return services.open_case(services.NewCase(requester=requester, priority=chosen, **fields))

    return make
