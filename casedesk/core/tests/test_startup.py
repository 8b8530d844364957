"""Start-up: a bad setting stops `casedesk` with a message naming the variable;
production mode demands a secret key and passes Django's deployment checklist."""

from __future__ import annotations

import pytest

from casedesk.core.tests.embedded import embedded_environ, run_casedesk

pytestmark = pytest.mark.no_database  # subprocesses on their own embedded SQLite: the PostgreSQL pass skips it


def casedesk(tmp_path, *args, **env):
    return run_casedesk(embedded_environ(tmp_path, **env), *args)


def assert_refused(result, message):
    """Exit code 2 and one plain line naming the variable: no traceback."""
    assert result.returncode == 2, result.stderr
    assert f"casedesk: configuration error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CASEDESK_DEBUG", "sometimes", "CASEDESK_DEBUG: expected a boolean"),
        (
            "DATABASE_URL",
            "mysql://db.example.com/casedesk",
            "DATABASE_URL: casedesk supports SQLite and PostgreSQL",
        ),
        ("DATABASE_URL", "nonsense", "DATABASE_URL:"),
        ("EMAIL_URL", "smtp://mail.example.com?tls=yes-please", "EMAIL_URL: tls= must be 1 or 0"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL: scheme must be one of"),
        ("CASEDESK_BASE_URL", "desk.example.com", "CASEDESK_BASE_URL: scheme must be one of"),
        ("SECRET_KEY", "short", "SECRET_KEY: must be at least 50 characters"),
        ("CASEDESK_SUPPORT_EMAIL", "support", "CASEDESK_SUPPORT_EMAIL: 'support' is not an email"),
        ("CASEDESK_EMERGENCY_PHONE", "555-0100", "CASEDESK_EMERGENCY_PHONE: write the number in"),
        ("CASEDESK_LOCKOUT_FAILURES", "0", "CASEDESK_LOCKOUT_FAILURES: must be at least 1"),
        ("CASEDESK_RATE_RESET_PER_IP", "lots", "CASEDESK_RATE_RESET_PER_IP: expected a count"),
        (
            "SECRET_KEY",
            "a" * 60,
            "SECRET_KEY: must be at least 50 characters with at least 5 different",
        ),
        ("ALLOWED_HOSTS", "", "ALLOWED_HOSTS: is empty"),
        (
            "CASEDESK_DEFAULT_CALENDAR",
            "Not A Slug!",
            "CASEDESK_DEFAULT_CALENDAR: must be a calendar's name",
        ),
        ("REDIS_URL", "unix://", "REDIS_URL: no socket path"),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_message_naming_it(tmp_path, variable, value, message):
    assert_refused(casedesk(tmp_path, "check", **{variable: value}), message)


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    assert_refused(
        casedesk(tmp_path, "check", CASEDESK_DEBUG="0"),
        "SECRET_KEY: is required when CASEDESK_DEBUG is off",
    )


def test_the_embedded_set_up_generates_a_secret_key_once_and_keeps_it(tmp_path):
    assert casedesk(tmp_path, "check").returncode == 0
    key_file = tmp_path / "var" / "secret_key"
    first = key_file.read_text()
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o077 == 0, "the key file must be private"
    assert casedesk(tmp_path, "check").returncode == 0
    assert key_file.read_text() == first


PRODUCTION = {
    "CASEDESK_DEBUG": "0",
    "SECRET_KEY": "x7-" + "k" * 20 + "-q9Zr" + "m" * 30 + "!Lw",
    "CASEDESK_BASE_URL": "https://desk.example.com",
}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CASEDESK_BASE_URL",
            "http://desk.example.com",
            "CASEDESK_BASE_URL: is required when CASEDESK_DEBUG is off and must be https://",
        ),
        ("CASEDESK_BASE_URL", "", "CASEDESK_BASE_URL: is required"),
        ("ALLOWED_HOSTS", "*", "ALLOWED_HOSTS: * would answer any Host header"),
    ],
)
def test_production_mode_refuses_unsafe_addresses(tmp_path, variable, value, message):
    assert_refused(casedesk(tmp_path, "check", **{**PRODUCTION, variable: value}), message)


def test_a_generated_key_file_that_was_emptied_is_reported_not_used(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("")
    assert_refused(
        casedesk(tmp_path, "check"),
        f"SECRET_KEY: {tmp_path / 'var' / 'secret_key'} holds no usable key; "
        "delete it to generate one",
    )


def test_production_mode_passes_the_deployment_checklist(tmp_path):
    result = casedesk(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        # Production pages through Twilio (oncall.W001 warns without an account).
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="t" * 32,
        TWILIO_FROM_NUMBER="+15555550100",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
