"""Configuration from the environment: strict, and every error names its variable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

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

pytestmark = pytest.mark.no_database  # pure helpers: the PostgreSQL pass skips it


@pytest.mark.parametrize("raw", ["1", "true", "YES", "On", " true "])
def test_bool_accepts_the_usual_spellings_of_true(raw):
    assert get_bool("X", False, {"X": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_bool_accepts_the_usual_spellings_of_false(raw):
    assert get_bool("X", True, {"X": raw}) is False


def test_a_bad_boolean_stops_start_up_naming_the_variable():
    with pytest.raises(ConfigError, match=r"^CASEDESK_DEBUG: expected a boolean.*'maybe'"):
        get_bool("CASEDESK_DEBUG", True, {"CASEDESK_DEBUG": "maybe"})


def test_unset_variables_take_their_default():
    assert get_bool("X", True, {}) is True
    assert get_int("X", 5, {}) == 5
    assert get_list("X", ["a"], {}) == ["a"]
    assert get_str("X", "d", {}) == "d"


def test_int_rejects_words_and_out_of_range_values():
    with pytest.raises(ConfigError, match="^N: expected a whole number"):
        get_int("N", 1, {"N": "five"})
    with pytest.raises(ConfigError, match="^N: must be at least 0"):
        get_int("N", 1, {"N": "-1"}, minimum=0)
    assert get_int("N", 1, {"N": " 42 "}, maximum=42) == 42


def test_list_splits_on_commas_and_refuses_empty_items():
    assert get_list("H", [], {"H": "a.example.com, b.example.com"}) == [
        "a.example.com",
        "b.example.com",
    ]
    with pytest.raises(ConfigError, match="^H: empty item"):
        get_list("H", [], {"H": "a.example.com,,b"})


def test_secret_can_come_from_a_file_named_by_NAME_FILE(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cr3t-from-file\n")
    assert get_str("SECRET_KEY", "", {"SECRET_KEY_FILE": str(secret)}) == "s3cr3t-from-file"


def test_giving_both_NAME_and_NAME_FILE_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="either SECRET_KEY or SECRET_KEY_FILE"):
        get_str("SECRET_KEY", "", {"SECRET_KEY": "a", "SECRET_KEY_FILE": str(tmp_path / "k")})


def test_an_unreadable_NAME_FILE_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="^SECRET_KEY_FILE: cannot read"):
        get_str("SECRET_KEY", "", {"SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_url_must_have_an_allowed_scheme_and_a_host():
    assert get_url("U", "", {"U": "https://desk.example.com/"}, schemes=("https",)) == (
        "https://desk.example.com"
    )
    with pytest.raises(ConfigError, match="^U: scheme must be one of https"):
        get_url("U", "", {"U": "ftp://desk.example.com"}, schemes=("https",))
    with pytest.raises(ConfigError, match="^U: no host"):
        get_url("U", "", {"U": "https://"}, schemes=("https",))
    with pytest.raises(ConfigError, match="^U: bad port"):
        get_url("U", "", {"U": "https://desk.example.com:99999"}, schemes=("https",))


def test_a_unix_socket_url_names_a_path_instead_of_a_host():
    value = get_url("R", "", {"R": "unix:///run/redis.sock"}, schemes=("unix",), hostless=("unix",))
    assert value == "unix:///run/redis.sock"
    with pytest.raises(ConfigError, match="^R: no socket path"):
        get_url("R", "", {"R": "unix://"}, schemes=("unix",), hostless=("unix",))


def test_email_url_console_file_and_locmem():
    assert parse_email_url("EMAIL_URL", "console:").backend.endswith("console.EmailBackend")
    assert parse_email_url("EMAIL_URL", "locmem:").backend.endswith("locmem.EmailBackend")
    config = parse_email_url("EMAIL_URL", "file:///var/mail/casedesk")
    assert config.backend.endswith("filebased.EmailBackend")
    assert config.file_path == "/var/mail/casedesk"


def test_email_url_smtp_with_starttls_and_encoded_credentials():
    config = parse_email_url(
        "EMAIL_URL", "smtp://desk%40example.com:p%2Fw@mail.example.com:587?tls=1"
    )
    assert (config.host, config.port, config.user, config.password) == (
        "mail.example.com",
        587,
        "desk@example.com",
        "p/w",
    )
    assert config.use_tls and not config.use_ssl


def test_email_url_smtps_means_implicit_tls_on_465():
    config = parse_email_url("EMAIL_URL", "smtps://mail.example.com")
    assert config.use_ssl and config.port == 465


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pigeon://coop", "unsupported"),
        ("smtp://", "no host"),
        ("smtp://mail.example.com?tls=perhaps", "tls= must be 1 or 0"),
        ("smtp://mail.example.com?tls=1&ssl=1", "not both"),
        ("smtp://mail.example.com?starttls=1", "unknown option"),
        ("smtp://mail.example.com:port", "bad port"),
        ("file://", "needs a folder"),
        ("file://var/mail", "absolute folder"),
        ("smtp://mail.example.com:0", "bad port"),
        ("smtp://mail.example.com?timeout=-5", "positive number of seconds"),
    ],
)
def test_a_bad_email_url_says_what_is_wrong(value, message):
    with pytest.raises(ConfigError, match=f"^EMAIL_URL: .*{message}"):
        parse_email_url("EMAIL_URL", value)


@given(st.text())
def test_any_email_url_either_parses_or_raises_config_error(value):
    try:
        parse_email_url("EMAIL_URL", value)
    except ConfigError as exc:
        assert exc.name == "EMAIL_URL"


@given(st.text())
def test_any_boolean_text_either_parses_or_raises_config_error(value):
    try:
        get_bool("B", False, {"B": value})
    except ConfigError as exc:
        assert exc.name == "B"


def test_duration_reads_the_clock_notation_and_refuses_zero_or_garbage():
    assert get_duration("D", timedelta(minutes=5), {"D": "15m"}) == timedelta(minutes=15)
    assert get_duration("D", timedelta(minutes=5), {"D": "PT1H"}) == timedelta(hours=1)
    assert get_duration("D", timedelta(minutes=5), {}) == timedelta(minutes=5)
    for bad in ("", "soon", "0m", "15"):
        with pytest.raises(ConfigError, match="^D: "):
            get_duration("D", timedelta(minutes=5), {"D": bad})


def test_rate_is_a_count_per_period():
    assert get_rate("R", Rate(1, timedelta(hours=1)), {"R": "3/1h"}) == Rate(3, timedelta(hours=1))
    assert get_rate("R", Rate(1, timedelta(hours=1)), {"R": " 30 / 15m "}) == Rate(
        30, timedelta(minutes=15)
    )
    assert str(Rate(3, timedelta(hours=1))) == "3 per 1:00:00"


@pytest.mark.parametrize("raw", ["3", "3/", "/1h", "0/1h", "-1/1h", "x/1h", "3/soon", "3/0s"])
def test_a_bad_rate_says_how_to_write_one(raw):
    with pytest.raises(ConfigError, match="^R: "):
        get_rate("R", Rate(1, timedelta(hours=1)), {"R": raw})


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_a_written_rate_reads_back_as_the_same_rate(count, minutes):
    assert get_rate("R", Rate(1, timedelta(hours=1)), {"R": f"{count}/{minutes}m"}) == Rate(
        count, timedelta(minutes=minutes)
    )


@given(st.text(max_size=30))
def test_any_rate_text_parses_or_names_the_variable(text):
    try:
        rate = get_rate("R", Rate(1, timedelta(hours=1)), {"R": text})
    except ConfigError as error:
        assert str(error).startswith("R: ")
    else:
        assert rate.limit >= 1 and rate.period > timedelta(0)


def test_origins_are_read_normalized_and_deduplicated():
    raw = "https://App.Example.com, http://127.0.0.1:8001,https://app.example.com"
    assert get_origins("X", [], {"X": raw}) == [
        "https://app.example.com",
        "http://127.0.0.1:8001",
    ]
    assert get_origins("X", [], {}) == []
    assert get_origins("X", [], {"X": ""}) == []


@pytest.mark.parametrize(
    "raw",
    [
        "*",
        "https://*.example.com",
        "app.example.com",
        "ftp://app.example.com",
        "javascript:alert(1)",
        "https://app.example.com/",
        "https://app.example.com/chat",
        "https://app.example.com?x=1",
        "https://app.example.com#top",
        "https://user@app.example.com",
        "https://app.example.com:99999",
        "https://",
        "null",
        "https://a.example.com,,https://b.example.com",
    ],
)
def test_origins_refuse_anything_but_scheme_host_and_port(raw):
    with pytest.raises(ConfigError, match="X"):
        get_origins("X", [], {"X": raw})


@given(st.text(max_size=40))
def test_origins_either_parse_to_plain_origins_or_raise_config_error(raw):
    try:
        origins = get_origins("X", [], {"X": raw})
    except ConfigError:
        return
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        assert scheme in ("http", "https") and rest and "/" not in rest
