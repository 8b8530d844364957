"""Property tests for what turns raw request text into addresses and keys."""

from __future__ import annotations

import ipaddress

from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from casedesk.accounts.lockout import _parse_ip, client_ip, network_key, submitted_email
from casedesk.accounts.models import normalize_email

ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


@given(st.text(max_size=80))
def test_parsing_any_text_as_an_ip_gives_an_address_or_none(text):
    parsed = _parse_ip(text)
    assert parsed is None or str(ipaddress.ip_address(parsed)) == parsed


@given(ips, st.integers(min_value=1, max_value=65535))
def test_an_address_is_read_with_or_without_a_port(ip, port):
    written = f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}"
    assert _parse_ip(written) == str(ip)
    assert _parse_ip(f"  {ip} ") == str(ip)


@given(ips)
def test_a_network_key_is_the_ipv4_address_or_the_ipv6_64(ip):
    request = RequestFactory().get("/", REMOTE_ADDR=str(ip))
    assert client_ip(request) == str(ip)
    key = network_key(request)
    assert key is not None
    if ip.version == 4:
        assert key == str(ip)
    elif ip.ipv4_mapped is None:
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(key)
        assert key.endswith("/64")


@given(st.text(max_size=300))
def test_normalising_an_address_is_idempotent(text):
    once = normalize_email(text)
    assert normalize_email(once) == once


@given(st.text(max_size=100))
def test_the_submitted_address_never_raises_whatever_was_posted(text):
    request = RequestFactory().post("/accounts/login/", {"username": text})
    normal = normalize_email(text)
    expected = normal if normal.isprintable() and len(normal) <= 254 else ""
    assert submitted_email(request, None) == expected
    assert submitted_email(None, {"username": text}) == expected
    assert "\x00" not in submitted_email(request, None)
