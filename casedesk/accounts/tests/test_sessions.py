"""Sessions: secure cookies over https, expiry, and log-out everywhere on a password change."""

from __future__ import annotations

import pytest
from django.test import Client

from casedesk.core.tests.embedded import embedded_environ, run_casedesk

pytestmark = pytest.mark.django_db

NEW = "another-good-passphrase-3"


def test_changing_the_password_logs_out_every_other_session(alice):
    here, elsewhere = Client(), Client()
    here.force_login(alice)
    elsewhere.force_login(alice)
    response = here.post(
        "/accounts/password_change/",
        {"old_password": "correct-horse-battery-9", "new_password1": NEW, "new_password2": NEW},
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    assert here.get("/accounts/").status_code == 200  # this session stays
    assert elsewhere.get("/accounts/").status_code == 302  # the other one is gone


def test_a_wrong_old_password_says_so_and_changes_nothing(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "nope", "new_password1": NEW, "new_password2": NEW},
    )
    assert "Your old password was entered incorrectly" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("correct-horse-battery-9")


def test_sessions_expire_and_logging_out_needs_a_post(client, alice, settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/accounts/").status_code == 302


def _settings_values(environ: dict[str, str], *names: str) -> list[str]:
    code = "from django.conf import settings; " + "; ".join(
        f"print(settings.{name})" for name in names
    )
    result = run_casedesk(environ, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_cookies_are_secure_over_https_even_in_debug(tmp_path):
    env = embedded_environ(tmp_path, CASEDESK_BASE_URL="https://support.example.com")
    assert _settings_values(env, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE") == ["True", "True"]
    env["CASEDESK_BASE_URL"] = "http://127.0.0.1:8000"
    assert _settings_values(env, "SESSION_COOKIE_SECURE") == ["False"]


def test_the_numbers_come_from_the_environment(tmp_path):
    env = embedded_environ(
        tmp_path,
        CASEDESK_LOCKOUT_FAILURES="7",
        CASEDESK_LOCKOUT_WINDOW="10m",
        CASEDESK_LOCKOUT_DURATION="1h",
        CASEDESK_PASSWORD_RESET_LINK_LIFETIME="30m",
        CASEDESK_RATE_RESET_PER_ADDRESS="2/1h",
        CASEDESK_SESSION_LIFETIME="8h",
    )
    assert _settings_values(
        env,
        "LOCKOUT_FAILURES",
        "LOCKOUT_WINDOW.total_seconds()",
        "LOCKOUT_DURATION.total_seconds()",
        "PASSWORD_RESET_TIMEOUT",
        "RATE_RESET_PER_ADDRESS.limit",
        "SESSION_COOKIE_AGE",
    ) == ["7", "600.0", "3600.0", "1800", "2", "28800"]


def test_a_bad_lock_out_setting_stops_start_up_naming_it(tmp_path):
    env = embedded_environ(tmp_path, CASEDESK_LOCKOUT_DURATION="a while")
    result = run_casedesk(env, "check")
    assert result.returncode == 2
    assert "casedesk: configuration error: CASEDESK_LOCKOUT_DURATION:" in result.stderr
