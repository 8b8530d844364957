"""The PostgreSQL connection options made from the CASEDESK_DB_* timeouts."""

from __future__ import annotations

from casedesk.lib.dbtimeouts import PostgresTimeouts, postgresql_options, server_settings

TIMEOUTS = PostgresTimeouts(
    connect=5,
    keepalive_idle=30,
    keepalive_interval=10,
    keepalive_count=3,
    statement=30,
    lock=10,
    idle_in_transaction=300,
)


def test_every_timeout_becomes_a_libpq_parameter_or_a_server_setting():
    assert postgresql_options(TIMEOUTS) == {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 60_000,  # idle + interval x count, in ms
        "options": "-c statement_timeout=30000 -c lock_timeout=10000 "
        "-c idle_in_transaction_session_timeout=300000",
    }


def test_options_given_in_the_database_url_win():
    options = postgresql_options(
        TIMEOUTS, given={"connect_timeout": "10", "options": "-c statement_timeout=0"}
    )
    assert options["connect_timeout"] == "10"
    # The server applies -c settings in order: the URL's comes last and wins.
    assert str(options["options"]).endswith("-c statement_timeout=0")


def test_a_server_setting_of_zero_seconds_turns_it_off():
    assert server_settings(statement_timeout=0) == "-c statement_timeout=0"
