"""Debug mode without TWILIO_AUTH_TOKEN makes up a token in var/ (so the line's webhooks
still check signatures and `casedesk phone simulate` signs with it); a token file that was
emptied or weakened is refused at start-up, as the generated secret key is."""

from __future__ import annotations

import pytest

from casedesk.core.tests.embedded import embedded_environ, run_casedesk

pytestmark = (
    pytest.mark.no_database
)  # subprocesses on their own embedded SQLite: the PostgreSQL pass skips it


def _environ(tmp_path):
    environ = embedded_environ(tmp_path)
    environ.pop("TWILIO_AUTH_TOKEN", None)
    environ.pop("TWILIO_ACCOUNT_SID", None)
    return environ


@pytest.mark.parametrize("weak", ["", "short", "a" * 80])
def test_a_weak_demo_token_file_is_reported_not_used(tmp_path, weak):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "twilio_demo_token").write_text(weak)
    result = run_casedesk(_environ(tmp_path), "check")
    assert result.returncode == 2, result.stderr
    assert (
        f"casedesk: configuration error: TWILIO_AUTH_TOKEN: {tmp_path / 'var' / 'twilio_demo_token'}"
        " holds no usable key; delete it to generate one" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_demo_token_is_made_up_once_and_strong(tmp_path):
    environ = _environ(tmp_path)
    assert run_casedesk(environ, "check").returncode == 0
    token = (tmp_path / "var" / "twilio_demo_token").read_text().strip()
    assert len(token) >= 50 and len(set(token)) >= 5
    assert run_casedesk(environ, "check").returncode == 0
    assert (tmp_path / "var" / "twilio_demo_token").read_text().strip() == token
