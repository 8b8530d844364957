"""casedesk settings: every value comes from the environment, through strict helpers.

See README.md ("Configuration") for the variables. A value that does not parse
stops start-up with a message naming the variable (``casedesk.lib.env``).
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from casedesk.lib.dbtimeouts import PoolSize, PostgresTimeouts, pool_options, postgresql_options
from casedesk.lib.dnsresolver import parse_servers
from casedesk.lib.env import (
    ConfigError,
    Rate,
    get_bool,
    get_duration,
    get_int,
    get_list,
    get_origins,
    get_rate,
    get_str,
    get_url,
    parse_email_url,
)
from casedesk.lib.names import is_calendar_name

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

# Where the embedded set-up keeps its database, generated secret key and files:
# var/ in a source checkout, else var/ under the working directory (never
# inside site-packages).
_default_var = BASE_DIR / "var" if (BASE_DIR / "pyproject.toml").exists() else Path.cwd() / "var"
VAR_DIR = Path(get_str("CASEDESK_VAR_DIR", str(_default_var))).resolve()

# Debug (development) mode is the default so that `make run` works with no set-up;
# production sets CASEDESK_DEBUG=0, which makes SECRET_KEY and an https
# CASEDESK_BASE_URL mandatory and turns on the HTTPS-only protections that
# `casedesk check --deploy` looks for.
DEBUG = get_bool("CASEDESK_DEBUG", True)

# Django's own deployment check (security.W009) asks for this much.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5


def _usable_key(key: str) -> bool:
    return len(key) >= SECRET_KEY_MIN_LENGTH and len(set(key)) >= SECRET_KEY_MIN_DISTINCT


def _generated_secret(name: str) -> str:
    """Generate var/<name> once; readers see either no file or a whole one.

    The secret is written to a temporary file and hard-linked into place, which
    fails if another process (``run`` and ``worker`` starting together) got
    there first; then that process's secret is used.
    """
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        tmp = VAR_DIR / f".{name}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


def _generated_usable_secret(name: str, setting: str) -> str:
    """``_generated_secret(name)``, refused unless strong enough (a file someone edited
    or truncated): the setting's error names the file to delete."""
    key = _generated_secret(name)
    if not _usable_key(key):
        raise ConfigError(
            setting, f"{VAR_DIR / name} holds no usable key; delete it to generate one"
        )
    return key


def _generated_secret_key() -> str:
    return _generated_usable_secret("secret_key", "SECRET_KEY")


def _secret_key() -> str:
    key = get_str("SECRET_KEY", "")
    if key:
        if not _usable_key(key):
            raise ConfigError(
                "SECRET_KEY",
                f"must be at least {SECRET_KEY_MIN_LENGTH} characters with at least "
                f"{SECRET_KEY_MIN_DISTINCT} different ones",
            )
        return key
    if not DEBUG:
        raise ConfigError("SECRET_KEY", "is required when CASEDESK_DEBUG is off")
    return _generated_secret_key()


SECRET_KEY = _secret_key()

_default_base_url = "http://127.0.0.1:8000" if DEBUG else ""
BASE_URL = get_url("CASEDESK_BASE_URL", _default_base_url, schemes=("http", "https")).rstrip("/")
if not DEBUG and not BASE_URL.startswith("https://"):
    # Production cookies are Secure: over plain http nobody could log in.
    raise ConfigError(
        "CASEDESK_BASE_URL",
        "is required when CASEDESK_DEBUG is off and must be https://, "
        "e.g. https://support.example.com",
    )
_base = urlsplit(BASE_URL)
_base_host = _base.hostname or "127.0.0.1"

ALLOWED_HOSTS = get_list(
    "ALLOWED_HOSTS",
    sorted({_base_host, "localhost", "127.0.0.1", "[::1]"} if DEBUG else {_base_host}),
)
if not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS", "is empty; name the host names casedesk answers to")
if "*" in ALLOWED_HOSTS and not DEBUG:
    raise ConfigError("ALLOWED_HOSTS", "* would answer any Host header; list the host names")
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "casedesk.core",
    "casedesk.hours",
    "casedesk.accounts",
    "casedesk.help",
    "casedesk.cases",
    "casedesk.mail",
    "casedesk.status",
    "casedesk.oncall",
    "casedesk.chat",
    "casedesk.phone",
    "casedesk.api",
]

# The REST API (casedesk.api): personal tokens only (no session cookie, so no CSRF to
# worry about), each token's scopes per area, JSON in and out.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["casedesk.api.auth.BearerToken"],
    "DEFAULT_PERMISSION_CLASSES": ["casedesk.api.auth.TokenScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["casedesk.api.auth.PerToken"],
    "EXCEPTION_HANDLER": "casedesk.api.problems.handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "casedesk API",
    "DESCRIPTION": "Cases, organizations, on call and the status page of a casedesk. "
    "Authenticate with a personal token (made on /accounts/tokens/ or by `casedesk tokens "
    "create`): `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # The reference page's scripts from our own static files, never a CDN.
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "casedesk.api.schema.problem_responses",
    ],
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so error pages and every later middleware's answers get the policy too.
    "casedesk.core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "casedesk.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "casedesk.core.middleware.ViewerTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lock-out flagged during the view into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "casedesk.urls"
ASGI_APPLICATION = "casedesk.asgi.application"
WSGI_APPLICATION = "casedesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "casedesk.core.context_processors.site",
            ],
        },
    },
]


def _seconds(name: str, default: timedelta, *, off: bool = False) -> int:
    """A database timeout in whole seconds; ``0s`` turns it off where ``off`` allows."""
    value = get_duration(name, default, minimum=timedelta(0) if off else timedelta(seconds=1))
    return int(value.total_seconds())


# Database timeouts (issue 16): without them a database that stops answering (a
# black-holed network path, a lock held forever) held /health/ and SMTP sessions
# for as long as the operating system's TCP timers ran, minutes.
# - connect: giving up on a server that does not answer the connection (libpq
#   rounds below 2 s up to 2 s);
# - keepalives: an idle connection to a vanished server is noticed after
#   idle + interval x count (60 s by default), and the same span bounds how long
#   sent data may go unacknowledged (tcp_user_timeout), which keepalives alone miss;
# - statement, lock: the server cancels a statement running, or waiting for a
#   lock, longer (0s turns either off, e.g. for a long migration);
# - idle in transaction: the server ends a session that holds a transaction
#   open and does nothing (a frozen process keeping its locks);
# - busy (SQLite): how long a write waits for another process's write lock.
DB_CONNECT_TIMEOUT = _seconds("CASEDESK_DB_CONNECT_TIMEOUT", timedelta(seconds=5))
DB_KEEPALIVE_IDLE = _seconds("CASEDESK_DB_KEEPALIVE_IDLE", timedelta(seconds=30))
DB_KEEPALIVE_INTERVAL = _seconds("CASEDESK_DB_KEEPALIVE_INTERVAL", timedelta(seconds=10))
DB_KEEPALIVE_COUNT = get_int("CASEDESK_DB_KEEPALIVE_COUNT", 3, minimum=1, maximum=100)
DB_STATEMENT_TIMEOUT = _seconds("CASEDESK_DB_STATEMENT_TIMEOUT", timedelta(seconds=30), off=True)
DB_LOCK_TIMEOUT = _seconds("CASEDESK_DB_LOCK_TIMEOUT", timedelta(seconds=10), off=True)
DB_IDLE_IN_TRANSACTION_TIMEOUT = _seconds(
    "CASEDESK_DB_IDLE_IN_TRANSACTION_TIMEOUT", timedelta(minutes=5), off=True
)
DB_BUSY_TIMEOUT = _seconds("CASEDESK_DB_BUSY_TIMEOUT", timedelta(seconds=20))

# Connection pool (issue 18), PostgreSQL only: opening a connection costs the server
# a process and the page a few milliseconds (the desk queue's median was 156 ms when
# every request and task opened its own). Each process (web process, worker lane)
# keeps its own psycopg pool: at least MIN connections open (0: none while idle), at
# most MAX, and a request waits at most TIMEOUT for a free one before failing, so a
# database that stops answering fails pages in seconds, not after a queue forms.
# Connections idle for IDLE are closed (down to MIN), and every connection is
# replaced after LIFETIME (the server's memory per session only grows).
# CASEDESK_DB_POOL=0 opens a connection per request or task, as before (PgBouncer in
# transaction mode, README "Running at scale").
DB_POOL = get_bool("CASEDESK_DB_POOL", True)
DB_POOL_MIN = get_int("CASEDESK_DB_POOL_MIN", 1, minimum=0, maximum=1000)
DB_POOL_MAX = get_int("CASEDESK_DB_POOL_MAX", 10, minimum=1, maximum=1000)
if DB_POOL_MAX < DB_POOL_MIN:
    raise ConfigError(
        "CASEDESK_DB_POOL_MAX",
        f"must be at least CASEDESK_DB_POOL_MIN ({DB_POOL_MIN}), got {DB_POOL_MAX}",
    )
DB_POOL_TIMEOUT = _seconds("CASEDESK_DB_POOL_TIMEOUT", timedelta(seconds=10))
DB_POOL_IDLE = _seconds("CASEDESK_DB_POOL_IDLE", timedelta(minutes=10))
DB_POOL_LIFETIME = _seconds("CASEDESK_DB_POOL_LIFETIME", timedelta(hours=1))
# PgBouncer in transaction mode between casedesk and PostgreSQL (README "Running at
# scale"): a server session serves many clients' transactions in turn, so nothing may
# outlive a transaction. Django's server-side cursors (.iterator()) are off anyway, and
# the server settings (statement and lock timeouts) are not sent when connecting:
# PgBouncer refuses the startup parameter that carries them; set them on the database
# role instead. (Server-side prepared statements are already off: Django's default.)
DB_PGBOUNCER = get_bool("CASEDESK_DB_PGBOUNCER", False)
# How many requests one web process works on at a time (core/webthreads.py): the
# rest wait their turn in order. Pages are mostly CPU (templates) and a process has
# one interpreter lock, so a few threads overlap the database's answers with the
# next page's work; many more only make every page finish late. Async views (the
# chat's long poll) are not counted: each keeps a thread of its own while it waits.
WEB_THREADS = get_int("CASEDESK_WEB_THREADS", 4, minimum=1, maximum=256)


def _databases() -> dict[str, dict[str, object]]:
    url = get_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'casedesk.sqlite3'}")
    try:
        # No persistent connections: under ASGI each request has a connection of its own,
        # so a kept one is never reused. PostgreSQL reuses connections through its pool.
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=0))
    except ValueError as exc:
        raise ConfigError("DATABASE_URL", f"{exc} (use sqlite:///path or postgres://...)") from None
    engine = str(config.get("ENGINE", ""))
    if engine == "django.db.backends.sqlite3":
        name = str(config.get("NAME", ""))
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the web process read while the worker writes; IMMEDIATE
        # transactions take the write lock up front, so two processes never
        # deadlock upgrading a read lock; the timeout waits out short writes.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": DB_BUSY_TIMEOUT,
        }
        # Tests get a file too, not Django's shared-cache in-memory database:
        # that one answers "table is locked" at once when a worker thread
        # writes, where a real WAL file waits, so threaded tests would test
        # something production never runs.
        config["TEST"] = {"NAME": str(VAR_DIR / "test_casedesk.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        # Options given in DATABASE_URL's query (?connect_timeout=10) win.
        config["OPTIONS"] = postgresql_options(
            PostgresTimeouts(
                connect=DB_CONNECT_TIMEOUT,
                keepalive_idle=DB_KEEPALIVE_IDLE,
                keepalive_interval=DB_KEEPALIVE_INTERVAL,
                keepalive_count=DB_KEEPALIVE_COUNT,
                statement=DB_STATEMENT_TIMEOUT,
                lock=DB_LOCK_TIMEOUT,
                idle_in_transaction=DB_IDLE_IN_TRANSACTION_TIMEOUT,
            ),
            given=config.get("OPTIONS") or {},  # type: ignore[arg-type]
        )
        # No server-side cursors: Django reads a form's choice list (the queue's
        # organizations and agents, a case's priorities) with .iterator(), which on
        # PostgreSQL declared a cursor WITH HOLD, fetched from it and closed it, three
        # round trips (and a copy of the rows on the server) instead of one for a
        # dozen rows; casedesk iterates no large result that would need one. PgBouncer
        # in transaction mode needs them off too.
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        if DB_PGBOUNCER:
            config["OPTIONS"].pop("options", None)  # type: ignore[attr-defined]
        if DB_POOL:
            # Django hands these to psycopg_pool.ConnectionPool; the connection options
            # above (timeouts, keepalives) apply to every connection the pool opens, and
            # CONN_HEALTH_CHECKS below has the pool check a connection before handing
            # it out, so one broken by a database restart is discarded, not used.
            config["OPTIONS"]["pool"] = pool_options(  # type: ignore[index]
                PoolSize(
                    min=DB_POOL_MIN,
                    max=DB_POOL_MAX,
                    timeout=DB_POOL_TIMEOUT,
                    idle=DB_POOL_IDLE,
                    lifetime=DB_POOL_LIFETIME,
                )
            )
    else:
        raise ConfigError(
            "DATABASE_URL", f"casedesk supports SQLite and PostgreSQL, not {engine!r}"
        )
    config["CONN_HEALTH_CHECKS"] = True
    return {"default": config}


DATABASES = _databases()
# /health/ says 503 when the database cannot commit a write (and answer the
# queue's questions) within this many seconds: a load balancer must hear that in
# seconds, not after the database's own timeouts.
HEALTH_DB_SECONDS = get_int("CASEDESK_HEALTH_DB_SECONDS", 2, minimum=1, maximum=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = get_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"), hostless=("unix",))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": get_str("CASEDESK_CACHE_PREFIX", "casedesk"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Two queues, each served by its own lane (a child process of `casedesk worker`):
# "critical" (paging, escalation, clock alarms, SLA deadlines, the emergency line) never
# waits behind "default" (mail processing, reports, webhooks, status mail).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "critical"],
    }
}
# Every task has a time budget: the worker stops one that runs over it and retries it by
# its retry policy, or parks it (failed, with the reason). A task may set its own
# (core.retry.time_budget); these are the defaults of each queue. Critical tasks talk to
# SMS/voice APIs with their own timeouts of seconds: a minute is ample.
TASK_BUDGET_SECONDS = get_int("CASEDESK_TASK_BUDGET_SECONDS", 300, minimum=1, maximum=86_400)
CRITICAL_TASK_BUDGET_SECONDS = get_int(
    "CASEDESK_CRITICAL_TASK_BUDGET_SECONDS", 60, minimum=1, maximum=3_600
)
# How many lanes (processes) serve the critical queue in each `casedesk worker`: with two,
# a slow critical task (a sweep over hundreds of open pages, an SMS provider's 10-second
# timeout) never holds up a page. Each idle lane costs about 2% of a core (250 ms polls).
WORKER_CRITICAL_LANES = get_int("CASEDESK_WORKER_CRITICAL_LANES", 2, minimum=1, maximum=16)
# A critical task ready for longer than this means no worker serves the critical queue
# (or it is stuck): every worker logs an error (at most every 5 minutes) and mails the admins.
CRITICAL_WAIT_ALERT_SECONDS = get_int(
    "CASEDESK_CRITICAL_WAIT_ALERT_SECONDS", 60, minimum=5, maximum=86_400
)
# Default 1 mail in 30 minutes (CASEDESK_RATE_CRITICAL_WAIT_MAIL): the admins hear of a
# stalled critical queue at once, then twice an hour while it lasts, not every 5 seconds.
RATE_CRITICAL_WAIT_MAIL = get_rate(
    "CASEDESK_RATE_CRITICAL_WAIT_MAIL", Rate(1, timedelta(minutes=30))
)

_email = parse_email_url("EMAIL_URL", get_str("EMAIL_URL", "console:"))
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = _email.timeout
if _email.file_path:
    EMAIL_FILE_PATH = _email.file_path
DEFAULT_FROM_EMAIL = get_str("DEFAULT_FROM_EMAIL", "casedesk <support@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Where customers reach support outside the portal. The first support address is
# the one shown on pages; the emergency line is shown as written (E.164, a + and digits).
SUPPORT_EMAILS = [
    address.lower() for address in get_list("CASEDESK_SUPPORT_EMAIL", ["support@example.com"])
]
for _address in SUPPORT_EMAILS:
    if _address.count("@") != 1 or not _address.partition("@")[2]:
        raise ConfigError("CASEDESK_SUPPORT_EMAIL", f"{_address!r} is not an email address")
# How long an idle worker waits before looking for tasks again: most of the time from a
# critical email's 250 to its case. Measured idle cost of one worker on SQLite: 100 ms
# polls 3.9% of a core, 250 ms 1.8%, 1 s 0.5%; 250 ms keeps a critical mail's p99 near
# a quarter of a second.
WORKER_POLL_SECONDS = get_int("CASEDESK_WORKER_POLL_MS", 250, minimum=10, maximum=60_000) / 1000
# ---- Inbound email (casedesk.mail) ----
# Outgoing Message-IDs name this domain (the first support address's, by default).
MAIL_DOMAIN = get_str("CASEDESK_MAIL_DOMAIN", SUPPORT_EMAILS[0].partition("@")[2]).strip().lower()
if not re.fullmatch(r"[a-z0-9.-]+", MAIL_DOMAIN):
    raise ConfigError("CASEDESK_MAIL_DOMAIN", f"{MAIL_DOMAIN!r} is not a domain name")
# The SMTP receiver (`casedesk smtpd`, and `casedesk run --smtp-port`).
SMTP_HOST = get_str("CASEDESK_SMTP_HOST", "127.0.0.1")
SMTP_PORT = get_int("CASEDESK_SMTP_PORT", 2525, minimum=0, maximum=65535)  # 0: not started
# A message over this size is refused with 552 (and by the pipe with exit 65).
MAIL_MAX_BYTES = get_int("CASEDESK_MAIL_MAX_MB", 25, minimum=1, maximum=200) * 2**20
# Hostile mail (issue 16): the HTML body sanitised for display is cut to this size (the
# original keeps it all), and a large message's parse is stopped after this many
# seconds (it is then read from its headers and first text; see mail/process.py).
MAIL_SANITISE_MAX_BYTES = 1024 * get_int(
    "CASEDESK_MAIL_SANITISE_MAX_KB", 256, minimum=16, maximum=10240
)
MAIL_PARSE_SECONDS = get_int("CASEDESK_MAIL_PARSE_SECONDS", 10, minimum=1, maximum=300)
# Who sent inbound mail (issue 17, mail/senders.py): SPF, DKIM and DMARC lookups go to
# these DNS servers ("host:port,...", IP addresses; unset: the system's resolv.conf), and
# all the lookups for one message together stop after MAIL_VERIFY_SECONDS (what is left
# unanswered is a temporary error, so a dead DNS server cannot hold the mail up).
MAIL_DNS_SERVERS = get_list("CASEDESK_MAIL_DNS_SERVERS", [])
try:
    MAIL_DNS_SERVERS = parse_servers(MAIL_DNS_SERVERS)
except ValueError as error:
    raise ConfigError("CASEDESK_MAIL_DNS_SERVERS", str(error)) from None
MAIL_VERIFY_SECONDS = get_int("CASEDESK_MAIL_VERIFY_SECONDS", 5, minimum=1, maximum=60)
# The authserv-id(s) of the MTA in front of casedesk: when set, its Authentication-Results
# header is trusted instead of checking DNS (and headers of any other id are ignored). Set
# it only when that MTA removes incoming headers that carry its id, or senders could
# write their own.
MAIL_TRUSTED_AUTHSERV_ID = [
    item.lower() for item in get_list("CASEDESK_MAIL_TRUSTED_AUTHSERV_ID", [])
]
# STARTTLS is offered when both are set (PEM files).
SMTP_TLS_CERT = get_str("CASEDESK_SMTP_TLS_CERT", "")
SMTP_TLS_KEY = get_str("CASEDESK_SMTP_TLS_KEY", "")
if bool(SMTP_TLS_CERT) != bool(SMTP_TLS_KEY):
    raise ConfigError("CASEDESK_SMTP_TLS_CERT", "set both _CERT and _KEY (PEM files), or neither")
# A message is acknowledged (250) only once committed; when the database cannot
# commit it within this many seconds the sender hears 451 and tries again later
# (a sending server retries for days), instead of waiting on a dead database.
SMTP_COMMIT_SECONDS = get_int("CASEDESK_SMTP_COMMIT_SECONDS", 5, minimum=1, maximum=300)
# Recipients one message may name: RFC 5321 (4.5.3.1.8) asks a receiver to take
# at least 100; the 101st hears 452 and the sender sends it again for the rest.
SMTP_MAX_RECIPIENTS = get_int("CASEDESK_SMTP_MAX_RECIPIENTS", 100, minimum=1, maximum=10_000)
# IMAP mailboxes for `casedesk imap`: comma-separated URLs,
# imaps://user:password@host[:993]/INBOX?move=Processed (see README).
IMAP_MAILBOXES = get_list("CASEDESK_IMAP_MAILBOXES", [])
IMAP_POLL = get_duration("CASEDESK_IMAP_POLL", timedelta(minutes=1))
# Mail from an address no organization claims: "hold" it on the desk's list for an
# agent to assign, or "ignore" it (recorded, no case).
MAIL_UNKNOWN_SENDER = get_str("CASEDESK_MAIL_UNKNOWN_SENDER", "hold").strip().lower()
if MAIL_UNKNOWN_SENDER not in ("hold", "ignore"):
    raise ConfigError("CASEDESK_MAIL_UNKNOWN_SENDER", "use 'hold' or 'ignore'")
# What the pipeline does with the sender verdict (SPF, DKIM, DMARC; mail/senders.py)
# before mail opens a case or adds a reply (issue 17: anyone can write "From:" a
# customer and page on-call). "verify": a sender that fails is suspended until an
# agent releases it, one with no verdict goes in marked "sender not verified";
# "strict": everything that does not pass is suspended; "off": no lookups, From: is
# trusted (an MTA in front already rejects failing mail, or a network without DNS).
MAIL_SENDER_POLICY = get_str("CASEDESK_MAIL_SENDER_POLICY", "verify").strip().lower()
if MAIL_SENDER_POLICY not in ("verify", "strict", "off"):
    raise ConfigError("CASEDESK_MAIL_SENDER_POLICY", "use 'verify', 'strict' or 'off'")
# RFC 3834: auto-replies to one sender address (default 5 an hour).
RATE_MAIL_AUTO_REPLY = get_rate("CASEDESK_RATE_MAIL_AUTO_REPLY", Rate(5, timedelta(hours=1)))
# Loop protection: messages from one sender into one case (default 10 a minute).
RATE_MAIL_INTO_CASE = get_rate("CASEDESK_RATE_MAIL_INTO_CASE", Rate(10, timedelta(minutes=1)))
# Critical-subject mail on the critical lane, per sending server (default 20 in 10
# minutes; the rest is processed on the default lane): see mail/policies.py.
RATE_MAIL_CRITICAL_LANE = get_rate(
    "CASEDESK_RATE_MAIL_CRITICAL_LANE", Rate(20, timedelta(minutes=10))
)
EMERGENCY_PHONE = get_str("CASEDESK_EMERGENCY_PHONE", "+15555550100")
if not re.fullmatch(r"\+[1-9]\d{6,14}", EMERGENCY_PHONE):
    raise ConfigError(
        "CASEDESK_EMERGENCY_PHONE", "write the number in E.164 form, e.g. +15555550100"
    )

# The calendar that decides "is support open?" everywhere (hours.services).
CASEDESK_DEFAULT_CALENDAR = get_str("CASEDESK_DEFAULT_CALENDAR", "default")
if not is_calendar_name(CASEDESK_DEFAULT_CALENDAR):
    raise ConfigError(
        "CASEDESK_DEFAULT_CALENDAR", "must be a calendar's name (letters, digits, - and _)"
    )

# ---- Cases (casedesk.cases) ----
# Attached files live here and are served only through the case's access check
# (there is no public MEDIA_URL).
MEDIA_ROOT = Path(get_str("CASEDESK_FILES_DIR", str(VAR_DIR / "files"))).resolve()
# 20 MB per file covers logs, screenshots and HAR captures; bigger goes through a share link.
ATTACHMENT_MAX_BYTES = get_int("CASEDESK_ATTACHMENT_MAX_MB", 20, minimum=1, maximum=1024) * 2**20
ATTACHMENT_MAX_FILES = 10  # per reply
# What customers may attach: documents, images, logs and archives. Never HTML, SVG or
# executables (a file served from our origin must not be able to run script).
ATTACHMENT_TYPES = [
    t.lower().lstrip(".")
    for t in get_list(
        "CASEDESK_ATTACHMENT_TYPES",
        (
            "txt log csv json xml pdf png jpg jpeg gif webp zip gz tgz har eml docx xlsx pptx "
            "mp3"  # voicemails from the emergency line (casedesk.phone.recordings)
        ).split(),
    )
]
for _type in ATTACHMENT_TYPES:
    if _type in {"html", "htm", "svg", "xhtml", "js", "exe", "bat", "cmd", "sh", "ps1", "msi"}:
        raise ConfigError(
            "CASEDESK_ATTACHMENT_TYPES", f"{_type} files may run code in a browser or on a PC"
        )
# DATA_UPLOAD_MAX_MEMORY_SIZE bounds the non-file part of a request; files stream to disk
# above FILE_UPLOAD_MAX_MEMORY_SIZE.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20
FILE_UPLOAD_HANDLERS = [
    # Stops a request whose files exceed what any reply may carry, as they stream in.
    "casedesk.cases.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# The desk queue and the portal list show this many cases per page.
CASES_PER_PAGE = get_int("CASEDESK_CASES_PER_PAGE", 50, minimum=10, maximum=500)

# ---- Status page (casedesk.status) ----
# Public status pages and API documents are cached per page version (every change
# bumps it) for at most this long; the "support is open now" line follows the clock
# within this many seconds.
STATUS_CACHE_SECONDS = get_int("CASEDESK_STATUS_CACHE_SECONDS", 30, minimum=1, maximum=3600)
# Each web process re-reads the page's version (which every change bumps) at most this
# often: a change made in another process shows within this many seconds (0: at once).
STATUS_VERSION_TTL = get_int("CASEDESK_STATUS_VERSION_TTL", 1, minimum=0, maximum=60)
# Browsers and proxies may reuse a status response this long (then revalidate: ETag, 304).
STATUS_MAX_AGE = get_int("CASEDESK_STATUS_MAX_AGE", 10, minimum=0, maximum=3600)
# Subscriber mails are sent by tasks of this many addresses each.
STATUS_MAIL_BATCH = get_int("CASEDESK_STATUS_MAIL_BATCH", 50, minimum=1, maximum=1000)
# Seconds a webhook receiver has to answer before the delivery is retried.
STATUS_WEBHOOK_TIMEOUT = get_int("CASEDESK_STATUS_WEBHOOK_TIMEOUT", 10, minimum=1, maximum=120)
# Webhooks go only to public internet addresses (no loopback, private or link-local
# address such as 169.254.169.254, checked on the address connected to; redirects are
# never followed). On: also to addresses on our own network (a receiver beside us).
STATUS_WEBHOOK_ALLOW_PRIVATE = get_bool("CASEDESK_STATUS_WEBHOOK_ALLOW_PRIVATE", False)
RATE_STATUS_SUBSCRIBE_PER_ADDRESS = get_rate(
    "CASEDESK_RATE_STATUS_SUBSCRIBE_PER_ADDRESS", Rate(3, timedelta(hours=1))
)
RATE_STATUS_SUBSCRIBE_PER_IP = get_rate(
    "CASEDESK_RATE_STATUS_SUBSCRIBE_PER_IP", Rate(20, timedelta(hours=1))
)
# ---- On call (casedesk.oncall) ----
# Paging by SMS and voice goes through Twilio's REST API when an account is set; without
# one, SMS and calls are printed on the console (`make run`). Email always goes by mail.
TWILIO_ACCOUNT_SID = get_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = get_str("TWILIO_AUTH_TOKEN", "")  # also TWILIO_AUTH_TOKEN_FILE
TWILIO_FROM_NUMBER = get_str("TWILIO_FROM_NUMBER", "")
if TWILIO_FROM_NUMBER and not re.fullmatch(r"\+[1-9]\d{6,14}", TWILIO_FROM_NUMBER):
    raise ConfigError("TWILIO_FROM_NUMBER", "write the number in E.164 form, e.g. +15555550100")
if TWILIO_ACCOUNT_SID and not (TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER):
    raise ConfigError(
        "TWILIO_ACCOUNT_SID", "is set: TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER are needed too"
    )
# Twilio's own API by default; tests and bench/ point it at a local stand-in.
TWILIO_API_BASE = get_url("TWILIO_API_BASE", "https://api.twilio.com", schemes=("http", "https"))
# Debug mode without a token (`make run`): a random one made up once in var/, so the
# emergency line's webhooks still check signatures and `casedesk phone simulate` (which
# reads the same settings) signs with it. Production never makes one up: no token, 503.
if DEBUG and not TWILIO_AUTH_TOKEN:
    TWILIO_AUTH_TOKEN = _generated_usable_secret("twilio_demo_token", "TWILIO_AUTH_TOKEN")
# The 2-hour clock: with no response after these minutes, the next level hears of it.
ONCALL_CLOCK_ALARMS = [
    get_int("CASEDESK_ONCALL_FIRST_ALARM_MINUTES", 60, minimum=1, maximum=1440),
    get_int("CASEDESK_ONCALL_SECOND_ALARM_MINUTES", 90, minimum=1, maximum=1440),
]
# Also page a critical case opened in hours that nobody took after this many minutes
# (0: never; the issue's "if configured").
ONCALL_PAGE_UNASSIGNED_MINUTES = get_int(
    "CASEDESK_ONCALL_PAGE_UNASSIGNED_MINUTES", 0, minimum=0, maximum=1440
)
# A signed acknowledgement link works this long.
ONCALL_ACK_LINK_LIFETIME = get_duration("CASEDESK_ONCALL_ACK_LINK_LIFETIME", timedelta(days=2))
# ---- The emergency line (casedesk.phone) ----
# Twilio posts the line's webhooks to CASEDESK_BASE_URL + /phone/...; TWILIO_AUTH_TOKEN
# (above) checks their signatures, and without it the webhooks answer 503.
# Seconds each engineer's phone rings before the line tries the next person.
PHONE_DIAL_TIMEOUT = get_int("CASEDESK_PHONE_DIAL_TIMEOUT", 25, minimum=5, maximum=120)
# The longest voicemail a caller may leave, in seconds.
PHONE_RECORD_MAX_SECONDS = get_int(
    "CASEDESK_PHONE_RECORD_MAX_SECONDS", 300, minimum=10, maximum=3600
)
# Wrong account numbers keyed in on the line, per calling number and for the whole line
# (casedesk.phone.policies): over either, callers are pointed to the portal.
RATE_PHONE_ACCOUNT_TRIES = get_rate(
    "CASEDESK_RATE_PHONE_ACCOUNT_TRIES", Rate(6, timedelta(hours=1))
)
RATE_PHONE_ACCOUNT_TRIES_LINE = get_rate(
    "CASEDESK_RATE_PHONE_ACCOUNT_TRIES_LINE", Rate(60, timedelta(hours=1))
)
# Fee recorded when an agent marks a call non-emergency (0: no fees), and its currency.
_phone_fee = get_str("CASEDESK_PHONE_FEE", "0")
try:
    PHONE_FEE = Decimal(_phone_fee).quantize(Decimal("0.01"))
    if not PHONE_FEE.is_finite() or PHONE_FEE < 0 or PHONE_FEE >= Decimal("100000000"):
        raise InvalidOperation
except InvalidOperation:
    raise ConfigError(
        "CASEDESK_PHONE_FEE", "write an amount such as 150 or 49.50 (0: no fees)"
    ) from None
PHONE_FEE_CURRENCY = get_str("CASEDESK_PHONE_FEE_CURRENCY", "USD").upper()
if not re.fullmatch(r"[A-Z]{3}", PHONE_FEE_CURRENCY):
    raise ConfigError("CASEDESK_PHONE_FEE_CURRENCY", "write a three-letter ISO 4217 code, e.g. USD")
# ---- Live chat (casedesk.chat) ----
# One web process: the in-memory channel layer. Several (uvicorn --workers N, or more
# machines) must share Redis, or a customer and an agent on different processes never
# hear each other: REDIS_URL turns the Redis layer on.
# redis-py's pool refuses (not waits for) a connection past its limit, 100 by default,
# and every socket's connect and every message borrows one: 100 is reached near 300 open
# chats on one process (bench/chat.py). Redis itself allows 10,000 clients by default.
CHAT_REDIS_CONNECTIONS = get_int(
    "CASEDESK_CHAT_REDIS_CONNECTIONS", 1000, minimum=10, maximum=100_000
)
# channels-redis waits for a socket's next event with BZPOPMIN for up to 5 s; redis-py 8
# gives up reading after 5 s by default, which ended idle chats' sockets. Read longer.
CHAT_REDIS_READ_TIMEOUT = 30


def redis_channel_layer(url: str, prefix: str) -> dict[str, object]:
    """The chat's Redis channel layer (tests build theirs with this too)."""
    host = {
        "address": url,
        "max_connections": CHAT_REDIS_CONNECTIONS,
        "socket_timeout": CHAT_REDIS_READ_TIMEOUT,
    }
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [host], "prefix": prefix},
    }


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            REDIS_URL, get_str("CASEDESK_CACHE_PREFIX", "casedesk") + ":chat"
        )
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# A chat waiting this long for an agent offers the customer to leave a case instead.
CHAT_WAIT_LIMIT = get_duration("CASEDESK_CHAT_WAIT_LIMIT", timedelta(minutes=3))
# An agent counts as available this long after their console's last heartbeat
# (the console sends one every 20 seconds while it is open).
CHAT_PRESENCE_TIMEOUT = get_duration("CASEDESK_CHAT_PRESENCE_TIMEOUT", timedelta(seconds=60))
# The long-poll fallback (WebSockets blocked) answers after this many seconds at most.
CHAT_POLL_SECONDS = get_int("CASEDESK_CHAT_POLL_SECONDS", 25, minimum=1, maximum=55)
# Sites that may embed the chat widget (widget.js with data-casedesk): their pages may
# frame /chat/embed/ (CSP frame-ancestors). Nothing by default; origins such as
# https://app.example.com, comma-separated.
CHAT_EMBED_ORIGINS = get_origins("CASEDESK_CHAT_EMBED_ORIGINS", [])
# Open chat sockets one person may hold (per web process): tabs and reconnects, not a flood.
CHAT_SOCKETS_PER_USER = get_int("CASEDESK_CHAT_SOCKETS_PER_USER", 10, minimum=1, maximum=1000)
# Per person: chat messages (30 a minute is fast typing; more is a script or a stuck key),
# chats started (10 an hour) and files sent (20 an hour). See casedesk/chat/policies.py.
RATE_CHAT_MESSAGES = get_rate("CASEDESK_RATE_CHAT_MESSAGES", Rate(30, timedelta(minutes=1)))
RATE_CHAT_STARTS = get_rate("CASEDESK_RATE_CHAT_STARTS", Rate(10, timedelta(hours=1)))
# Messages left through the offline chat form (each opens a case), per customer.
RATE_CHAT_LEAVES = get_rate("CASEDESK_RATE_CHAT_LEAVES", Rate(10, timedelta(hours=1)))
RATE_CHAT_FILES = get_rate("CASEDESK_RATE_CHAT_FILES", Rate(20, timedelta(hours=1)))
# API requests per token (casedesk/api/policies.py): 600 a minute is a busy integration;
# more is a loop gone wrong, answered 429 with Retry-After.
RATE_API_REQUESTS = get_rate("CASEDESK_RATE_API_REQUESTS", Rate(600, timedelta(minutes=1)))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; shown in the calendar's or viewer's zone
USE_I18N = True
USE_TZ = True

# Load balancers probe /health/ over plain http.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve straight from the apps' static folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---- Accounts: log-in, lock-out, password reset (casedesk.accounts) ----
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked account before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # which sends customers to the portal and staff to the desk
LOGOUT_REDIRECT_URL = "home"

# Lock-out: LOCKOUT_FAILURES wrong passwords for one address within
# LOCKOUT_WINDOW lock it for LOCKOUT_DURATION. Five in fifteen minutes is more
# than a person mistyping and far too few to guess a password; thirty minutes
# stops a guesser without stranding a customer all night (a password reset
# or an agent ends it sooner).
LOCKOUT_FAILURES = get_int("CASEDESK_LOCKOUT_FAILURES", 5, minimum=1, maximum=100)
LOCKOUT_WINDOW = get_duration("CASEDESK_LOCKOUT_WINDOW", timedelta(minutes=15))
LOCKOUT_DURATION = get_duration("CASEDESK_LOCKOUT_DURATION", timedelta(minutes=30))
AXES_HANDLER = "casedesk.accounts.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = LOCKOUT_FAILURES
AXES_COOLOFF_TIME = LOCKOUT_DURATION
AXES_LOCKOUT_PARAMETERS = ["username"]  # per address; per network is RATE_LOGIN_FAILURES_PER_IP
AXES_USERNAME_CALLABLE = "casedesk.accounts.lockout.submitted_email"
AXES_CLIENT_IP_CALLABLE = "casedesk.accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "casedesk.accounts.views.locked_out"
# A guess while locked does not extend the lock: "try again at 10:42" stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False  # casedesk's own lock-out log replaces axes' tables in the admin
AXES_VERBOSE = False
# axes.W006 asks for lock-out by IP as well; a network is limited by
# RATE_LOGIN_FAILURES_PER_IP instead, which allows an office's shared address
# more than one person's five guesses.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Password reset links (Django's flow) die after use and after this long.
PASSWORD_RESET_TIMEOUT = int(
    get_duration("CASEDESK_PASSWORD_RESET_LINK_LIFETIME", timedelta(hours=1)).total_seconds()
)
# An invitation to set a first password lasts longer: people read mail late.
INVITE_LINK_LIFETIME = get_duration("CASEDESK_INVITE_LINK_LIFETIME", timedelta(days=7))

# Rate limits, named policies in casedesk.accounts.policies. Three reset mails an
# hour is enough for a lost first one and too few to flood a mailbox; the
# per-network limits stop one address spraying many accounts.
RATE_RESET_PER_ADDRESS = get_rate("CASEDESK_RATE_RESET_PER_ADDRESS", Rate(3, timedelta(hours=1)))
RATE_RESET_PER_IP = get_rate("CASEDESK_RATE_RESET_PER_IP", Rate(20, timedelta(hours=1)))
RATE_LOGIN_FAILURES_PER_IP = get_rate(
    "CASEDESK_RATE_LOGIN_FAILURES_PER_IP", Rate(50, timedelta(minutes=15))
)
# Someone re-locking an address every half hour must not flood its owner's inbox.
RATE_LOCK_MAIL_PER_ADDRESS = get_rate(
    "CASEDESK_RATE_LOCK_MAIL_PER_ADDRESS", Rate(1, timedelta(hours=6))
)

# Sessions end after this long; a password change ends every other session
# (Django's session auth hash).
SESSION_COOKIE_AGE = int(
    get_duration("CASEDESK_SESSION_LIFETIME", timedelta(hours=12)).total_seconds()
)
OTP_TOTP_ISSUER = get_str("CASEDESK_SITE_NAME", "casedesk")

SESSION_COOKIE_HTTPONLY = True
# Over https, cookies never travel in clear (production requires https).
SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = get_bool("CASEDESK_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = get_int("CASEDESK_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = get_bool("CASEDESK_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = get_bool("CASEDESK_HSTS_PRELOAD", True)
BEHIND_PROXY = get_bool("CASEDESK_BEHIND_PROXY", False)
if BEHIND_PROXY:
    # Only when a reverse proxy that sets this header (and strips it from clients) is in front.
    # The client's address (lock-out log, rate limits) is then the one the proxy
    # appended to X-Forwarded-For (casedesk.accounts.lockout.client_ip).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = get_str("CASEDESK_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ConfigError(
        "CASEDESK_LOG_LEVEL", f"use DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Every task start and finish is logged at INFO (sweeps run every minute);
        # failures are logged at ERROR with their traceback either way.
        "django_tasks": {"level": "WARNING" if LOG_LEVEL == "INFO" else LOG_LEVEL},
        # Twilio's client logs every request at INFO, the Account SID included.
        "twilio.http_client": {"level": "WARNING"},
    },
}
