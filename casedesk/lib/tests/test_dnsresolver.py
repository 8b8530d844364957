"""The sender checks' DNS resolver: its server list, and its budget against a real server."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.dnsresolver import DNSTempError, Resolver, parse_servers
from casedesk.mail.tests.dnsserver import NEGATIVE_TTL, TTL

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


def _asked(zone: Any, name: str) -> int:
    return sum(1 for asked, _ in zone.queries if asked == name)


def test_answers_and_no_answers_are_asked_once_while_their_ttl_lasts(
    dns_server: Any, dns_zone: Any
) -> None:
    dns_zone.txt("acme.example", "v=spf1 -all")  # TTL 300
    dns_zone.a("host.acme.example", "192.0.2.9")  # a name with no TXT: NODATA
    resolver = Resolver([dns_server.address])
    for _ in range(3):
        lookup = resolver.budget(5)
        assert lookup.txt("acme.example") == [b"v=spf1 -all"]
        assert lookup.txt("host.acme.example") == []
        assert lookup.txt("nobody.example") == []  # NXDOMAIN, cached for the SOA minimum
        assert lookup.query("host.acme.example", "A") is not None
    asked = {name: _asked(dns_zone, name) for name in ("acme.example", "host.acme.example")}
    assert asked == {"acme.example": 1, "host.acme.example": 2}  # TXT, then A
    assert _asked(dns_zone, "nobody.example") == 1
    assert lookup.queries == 4  # each counts against the budget, cached or not


def test_a_cached_answer_is_asked_again_when_its_ttl_has_passed(
    dns_server: Any, dns_zone: Any
) -> None:
    dns_zone.txt("acme.example", "v=spf1 -all")
    resolver = Resolver([dns_server.address])
    assert resolver.budget(5).txt("nobody.example") == []
    assert resolver.budget(5).txt("acme.example") == [b"v=spf1 -all"]
    with time_machine.travel(time.time() + NEGATIVE_TTL + 1, tick=True):
        assert resolver.budget(5).txt("nobody.example") == []
        assert resolver.budget(5).txt("acme.example") == [b"v=spf1 -all"]
    with time_machine.travel(time.time() + TTL + 1, tick=True):
        assert resolver.budget(5).txt("acme.example") == [b"v=spf1 -all"]
    assert (_asked(dns_zone, "nobody.example"), _asked(dns_zone, "acme.example")) == (2, 2)
