"""The sender checks' DNS resolver: its server list, and its budget against a real server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.dnsresolver import DNSTempError, Resolver, parse_servers

pytestmark = pytest.mark.no_database


def test_servers_are_addresses_with_an_optional_port() -> None:
    assert parse_servers(
        ["192.0.2.53", "127.0.0.1:5353", "[2001:db8::53]:5300", "2001:db8::1"]
    ) == [
        "192.0.2.53:53",
        "127.0.0.1:5353",
        "[2001:db8::53]:5300",
        "[2001:db8::1]:53",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "dns.example.com",
        "192.0.2.1:0",
        "192.0.2.1:65536",
        "192.0.2.1:x",
        "[2001:db8::1",
        "[::1]x",
        "",
    ],
)
def test_a_server_that_is_not_an_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="port|address|expected"):
        parse_servers([bad])


@given(st.text(max_size=60))
def test_garbage_server_lists_raise_only_valueerror(text: str) -> None:
    try:
        parse_servers(text.split(","))
    except ValueError:
        pass


def test_a_bad_server_list_stops_start_up_naming_the_variable(tmp_path: Any) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import casedesk.settings"],
        env={
            "CASEDESK_MAIL_DNS_SERVERS": "dns.example.com",
            "PATH": "/usr/bin:/bin",
            "CASEDESK_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "CASEDESK_MAIL_DNS_SERVERS" in result.stderr


def test_a_spent_budget_fails_at_once_without_asking(dns_server: Any) -> None:
    resolver = Resolver([dns_server.address])
    lookup = resolver.budget(0)
    before = len(dns_server.zone.queries)
    with pytest.raises(DNSTempError, match="budget"):
        lookup.txt("globex.example")
    assert len(dns_server.zone.queries) == before


def test_a_silent_server_costs_the_budget_then_temperror(dns_server: Any) -> None:
    dns_server.zone.blackhole = True
    try:
        lookup = Resolver([dns_server.address], query_seconds=0.5).budget(1)
        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(DNSTempError):
                lookup.txt("globex.example")
        assert time.monotonic() - started < 1 + 1
    finally:
        dns_server.zone.blackhole = False


@pytest.mark.parametrize("name", ["", "a..b", "x" * 64 + ".example", "." * 300, "\x00"])
def test_a_name_dns_cannot_hold_has_no_records(dns_server: Any, name: str) -> None:
    assert Resolver([dns_server.address]).budget(2).txt(name) == []
