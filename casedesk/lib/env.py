"""Strict readers for configuration from environment variables.

Every setting casedesk reads from the environment goes through one of these
helpers. They never guess: a value that does not parse raises
:class:`ConfigError` naming the variable and saying what would be accepted, so
a typo stops start-up instead of silently running with a default.

Secrets may also be given as ``NAME_FILE`` pointing at a file (Docker and
systemd credentials); the file's content, stripped of the trailing newline,
is the value. Giving both ``NAME`` and ``NAME_FILE`` is an error.

Pure Python on purpose: ``settings.py`` imports it before Django is set up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from casedesk.hours.clock import parse_duration

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A configuration variable has a value casedesk cannot use."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def get_str(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the variable, or ``default`` when it is unset.

    A secret read through ``NAME_FILE`` is honoured here too.
    """
    env = _environ(environ)
    file_name = f"{name}_FILE"
    if file_name in env:
        if name in env:
            raise ConfigError(name, f"set either {name} or {file_name}, not both")
        path = Path(env[file_name])
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(file_name, f"cannot read {path}: {exc.strerror}") from exc
    return env.get(name, default)


def get_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Read a boolean; only 1/0, true/false, yes/no, on/off (any case) are accepted."""
    env = _environ(environ)
    if name not in env:
        return default
    value = env[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        name, f"expected a boolean (1/0, true/false, yes/no, on/off), got {env[name]!r}"
    )


def get_int(
    name: str,
    default: int,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """Read an integer, optionally bounded (inclusive)."""
    env = _environ(environ)
    if name not in env:
        return default
    raw = env[name].strip()
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {env[name]!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
    return value


def get_duration(
    name: str,
    default: timedelta,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: timedelta = timedelta(seconds=1),
) -> timedelta:
    """Read a duration such as ``15m``, ``1h``, ``2h30m`` or ISO-8601 ``PT30M``."""
    env = _environ(environ)
    if name not in env:
        return default
    try:
        value = parse_duration(env[name])
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` events per ``period``: written ``3/1h`` in the environment."""

    limit: int
    period: timedelta

    def __str__(self) -> str:
        return f"{self.limit} per {self.period}"


def get_rate(name: str, default: Rate, environ: Mapping[str, str] | None = None) -> Rate:
    """Read a rate such as ``3/1h`` (three per hour) or ``30/15m``."""
    env = _environ(environ)
    if name not in env:
        return default
    count, slash, period = env[name].strip().partition("/")
    if not slash or not count.strip().isdigit() or int(count) < 1:
        raise ConfigError(
            name, f"expected a count and a period such as '3/1h' or '30/15m', got {env[name]!r}"
        )
    try:
        duration = parse_duration(period)
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None
    if duration <= timedelta(0):
        raise ConfigError(name, "the period must be longer than zero")
    return Rate(int(count), duration)


def get_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """Read a comma-separated list; blanks around items are dropped, empty items refused."""
    env = _environ(environ)
    if name not in env:
        return list(default)
    raw = env[name]
    if not raw.strip():
        return []
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ConfigError(name, f"empty item in comma-separated list {raw!r}")
    return items


def get_url(
    name: str,
    default: str,
    environ: Mapping[str, str] | None = None,
    *,
    schemes: tuple[str, ...],
    hostless: tuple[str, ...] = (),
) -> str:
    """Read a URL whose scheme is one of ``schemes`` and which names a host.

    Schemes in ``hostless`` (``unix`` sockets) name a path instead.
    """
    value = get_str(name, default, environ).strip()
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ConfigError(name, f"scheme must be one of {', '.join(schemes)}, got {value!r}")
    if parts.scheme in hostless:
        if not parts.path or parts.path == "/":
            raise ConfigError(name, f"no socket path in {value!r}")
        return value
    if not parts.hostname:
        raise ConfigError(name, f"no host in {value!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(name, f"bad port in {value!r}") from None
    return value.rstrip("/") if parts.path in ("", "/") else value


def get_origins(
    name: str, default: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Read a comma-separated list of web origins (``https://app.example.com``, a port
    allowed): scheme http or https, a host, nothing else (no path, query, user or
    wildcard). Returned lower-case as browsers send them in ``Origin``."""
    origins: list[str] = []
    for item in get_list(name, default, environ):
        parts = urlsplit(item)
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(name, f"bad port in {item!r}") from None
        host = parts.hostname or ""
        if (
            parts.scheme.lower() not in ("http", "https")
            or not host
            or "*" in item
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or item.endswith("/")
            or any(c.isspace() for c in item)
        ):
            raise ConfigError(
                name, f"expected origins such as https://app.example.com, got {item!r}"
            )
        netloc = f"[{host}]" if ":" in host else host
        origin = f"{parts.scheme.lower()}://{netloc}{f':{port}' if port is not None else ''}"
        if origin not in origins:
            origins.append(origin)
    return origins


@dataclass(frozen=True)
class EmailConfig:
    """Django's email settings, parsed from ``EMAIL_URL``."""

    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: int = 30
    file_path: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def parse_email_url(name: str, value: str) -> EmailConfig:
    """Turn ``EMAIL_URL`` into Django email settings.

    Accepted forms:

    * ``console:`` prints every message to standard output (the embedded default);
    * ``file:///folder`` writes each message as a file into ``folder``;
    * ``locmem:`` keeps messages in memory (tests);
    * ``smtp://user:pass@host:587?tls=1`` (or ``ssl=1``; ``smtps://`` implies SSL,
      ``timeout=N`` in seconds), user and password percent-encoded.
    """
    value = value.strip()
    parts = urlsplit(value)
    scheme = parts.scheme
    if scheme == "console":
        return EmailConfig(backend="django.core.mail.backends.console.EmailBackend")
    if scheme == "locmem":
        return EmailConfig(backend="django.core.mail.backends.locmem.EmailBackend")
    if scheme == "file":
        if parts.netloc:
            raise ConfigError(
                name, f"file: takes an absolute folder, file:///var/mail, got {value!r}"
            )
        if not parts.path or parts.path == "/":
            raise ConfigError(name, f"file: needs a folder, e.g. file:///var/mail, got {value!r}")
        return EmailConfig(
            backend="django.core.mail.backends.filebased.EmailBackend",
            file_path=unquote(parts.path),
        )
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ConfigError(name, f"no host in {value!r}")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(name, f"bad port in {value!r}") from None
        if port == 0:
            raise ConfigError(name, f"bad port in {value!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"tls", "ssl", "timeout"}
        if unknown:
            raise ConfigError(
                name, f"unknown option(s) {', '.join(sorted(unknown))}; use tls, ssl, timeout"
            )

        def flag(key: str) -> bool:
            raw = query.get(key, "0").lower()
            if raw not in _TRUE | _FALSE:
                raise ConfigError(name, f"{key}= must be 1 or 0, got {raw!r}")
            return raw in _TRUE

        use_tls = flag("tls")
        use_ssl = flag("ssl") or scheme == "smtps"
        if use_tls and use_ssl:
            raise ConfigError(name, "choose tls=1 (STARTTLS) or ssl=1 (implicit TLS), not both")
        try:
            timeout = int(query.get("timeout", "30"))
        except ValueError:
            raise ConfigError(
                name, f"timeout= must be whole seconds, got {query['timeout']!r}"
            ) from None
        if timeout <= 0:
            raise ConfigError(name, f"timeout= must be a positive number of seconds, got {timeout}")
        return EmailConfig(
            backend="django.core.mail.backends.smtp.EmailBackend",
            host=parts.hostname,
            port=port or (465 if use_ssl else 25),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_tls=use_tls,
            use_ssl=use_ssl,
            timeout=timeout,
        )
    raise ConfigError(
        name,
        f"unsupported {value!r}; use console:, file:///folder, locmem: or smtp://user:pass@host:587?tls=1",
    )
