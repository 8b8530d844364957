"""Who sent it: SPF, DKIM and DMARC against the tests' DNS server, the judgment of a
verdict, and the trusted MTA's Authentication-Results (issue 17)."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib import authresults
from casedesk.mail.models import SenderCheck
from casedesk.mail.senders import Verdict, verify
from casedesk.mail.tests.conftest import build
from casedesk.mail.tests.dnsserver import DkimKey

pytestmark = pytest.mark.no_database

GLOBEX_MX = "198.51.100.25"  # the only server globex.example sends from
FORGER = "203.0.113.66"
BOB = "bob@globex.example"


def check(
    raw: bytes,
    *,
    sender: str | None = None,
    envelope: str | None = BOB,
    ip: str | None = GLOBEX_MX,
    helo: str = "",
) -> Verdict:
    """verify() as the pipeline calls it: ``sender`` is the From: address (read from the
    message when not given)."""
    if sender is None:
        found = message_from_bytes(raw, policy=policy.default)["From"]
        sender = found.addresses[0].addr_spec if found and found.addresses else ""
    return verify(raw, from_address=sender, envelope_from=envelope, client_ip=ip, helo=helo)


@pytest.fixture
def globex_dns(dns_zone: Any) -> Any:
    """globex.example as a careful customer's IT publishes it: SPF -all, a DKIM key,
    DMARC p=reject."""
    key = DkimKey()
    dns_zone.publish_spf("globex.example", f"v=spf1 ip4:{GLOBEX_MX} -all")
    dns_zone.publish_dkim("globex.example", key.selector, key.public)
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    dns_zone.key = key
    return dns_zone


# ---- The judgment of a verdict ----


@pytest.mark.parametrize(
    ("verdict", "judgment"),
    [
        (Verdict(spf="pass", spf_aligned=True), SenderCheck.PASS),
        (Verdict(dkim="pass", dkim_aligned=True, spf="fail"), SenderCheck.PASS),
        (Verdict(spf="fail", dmarc="fail", dmarc_policy="reject"), SenderCheck.FAIL),
        (Verdict(spf="none", dmarc="fail", dmarc_policy="quarantine"), SenderCheck.FAIL),
        (
            Verdict(spf="pass", spf_aligned=False, dmarc="fail", dmarc_policy="none"),
            SenderCheck.FAIL,
        ),
        (Verdict(dkim="pass", dkim_aligned=False), SenderCheck.FAIL),
        (Verdict(), SenderCheck.NONE),
        (Verdict(spf="softfail"), SenderCheck.NONE),
        (Verdict(spf="temperror", dkim="temperror", dmarc="temperror"), SenderCheck.NONE),
        (Verdict(spf="neutral", dkim="permerror", dmarc="none"), SenderCheck.NONE),
    ],
    ids=[
        "aligned-spf-pass",
        "aligned-dkim-pass",
        "dmarc-reject-fail",
        "dmarc-quarantine-fail",
        "p-none-unaligned-pass",
        "unaligned-dkim-pass",
        "nothing",
        "softfail",
        "temperror",
        "neutral-permerror",
    ],
)
def test_judgment_of_a_verdict(verdict: Verdict, judgment: SenderCheck) -> None:
    assert verdict.judgment == judgment


# ---- verify() against DNS ----


def test_forged_sender_from_another_server_fails_dmarc_reject(globex_dns: Any) -> None:
    verdict = check(build(sender=BOB, subject="CRITICAL: site down"), ip=FORGER)
    assert (verdict.spf, verdict.dkim, verdict.dmarc, verdict.dmarc_policy) == (
        "fail",
        "none",
        "fail",
        "reject",
    )
    assert verdict.judgment == SenderCheck.FAIL
    assert "p=reject" in verdict.reason


def test_spf_pass_from_the_published_server(globex_dns: Any) -> None:
    verdict = check(build(sender=BOB))
    assert (verdict.spf, verdict.spf_domain, verdict.spf_aligned) == (
        "pass",
        "globex.example",
        True,
    )
    assert verdict.dmarc == "pass"
    assert verdict.judgment == SenderCheck.PASS


def test_dkim_signature_passes_from_any_server(globex_dns: Any) -> None:
    raw = globex_dns.key.sign(build(sender=BOB), "globex.example")
    verdict = check(raw, envelope="bounces@mailer.example.net", ip=FORGER)
    assert (verdict.dkim, verdict.dkim_domain, verdict.dkim_aligned) == (
        "pass",
        "globex.example",
        True,
    )
    assert verdict.judgment == SenderCheck.PASS


def test_ed25519_signature_passes(dns_zone: Any) -> None:
    key = DkimKey(kind="ed25519", selector="ed")
    dns_zone.publish_dkim("acme.example", "ed", key.public, "ed25519")
    verdict = check(key.sign(build(), "acme.example"), sender="alice@acme.example", ip=None)
    assert (verdict.dkim, verdict.dkim_aligned) == ("pass", True)
    assert verdict.judgment == SenderCheck.PASS


def test_blackholed_dns_costs_at_most_the_budget(globex_dns: Any, settings: Any) -> None:
    settings.MAIL_VERIFY_SECONDS = 2
    globex_dns.blackhole = True
    raw = globex_dns.key.sign(build(sender=BOB), "globex.example")
    started = time.monotonic()
    verdict = check(raw)
    assert time.monotonic() - started < 2 + 3  # the budget, and the CPU of the checks (6 s without)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("temperror", "temperror", "temperror")
    assert verdict.judgment == SenderCheck.NONE


# ---- The trusted MTA's Authentication-Results ----


def test_trusted_authentication_results_pass(settings: Any, dns_zone: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    raw = build(
        sender=BOB,
        headers={
            "Authentication-Results": "mx.example.com; spf=pass smtp.mailfrom=bob@globex.example;"
            " dkim=pass header.d=globex.example; dmarc=pass (p=reject dis=none) header.from=globex.example"
        },
    )
    verdict = check(raw, ip=FORGER)
    assert verdict.judgment == SenderCheck.PASS
    assert (verdict.dmarc_policy, verdict.source) == (
        "reject",
        "Authentication-Results of mx.example.com",
    )
    assert dns_zone.queries == []  # no DNS asked


def test_authentication_results_of_another_authserv_id_are_ignored(settings: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    forged = "mx.example.com.forger.example; spf=pass smtp.mailfrom=globex.example; dmarc=pass"
    verdict = check(build(sender=BOB, headers={"Authentication-Results": forged}), ip=FORGER)
    assert (verdict.spf, verdict.dmarc) == ("none", "none")
    assert verdict.judgment == SenderCheck.NONE


@given(st.text(max_size=400))
def test_garbage_authentication_results_never_raise(value: str) -> None:
    parsed = authresults.parse(value)
    assert parsed is None or isinstance(parsed.authserv_id, str)


# ---- SPF ----


@pytest.mark.parametrize(
    ("record", "result"),
    [
        (f"v=spf1 ip4:{GLOBEX_MX} -all", "fail"),
        (f"v=spf1 ip4:{GLOBEX_MX} ~all", "softfail"),
        (f"v=spf1 ip4:{GLOBEX_MX} ?all", "neutral"),
        ("v=spf1 ip4:not-an-address -all", "permerror"),
        ("v=spf1 redirect=", "permerror"),
    ],
)
def test_spf_result_of_the_published_record(dns_zone: Any, record: str, result: str) -> None:
    dns_zone.publish_spf("globex.example", record)
    assert check(build(sender=BOB), ip=FORGER).spf == result


def test_spf_none_without_a_record(dns_zone: Any) -> None:
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.spf, verdict.judgment) == ("none", SenderCheck.NONE)


def test_two_spf_records_are_a_permerror(dns_zone: Any) -> None:
    dns_zone.publish_spf("globex.example", "v=spf1 -all")
    dns_zone.publish_spf("globex.example", "v=spf1 +all")
    assert check(build(sender=BOB)).spf == "permerror"


def test_spf_follows_include_mx_and_ipv6(dns_zone: Any) -> None:
    dns_zone.publish_spf("globex.example", "v=spf1 include:_spf.mailer.example.net mx -all")
    dns_zone.publish_spf("_spf.mailer.example.net", "v=spf1 ip6:2001:db8::/32 -all")
    dns_zone.mx("globex.example", "mx.globex.example")
    dns_zone.a("mx.globex.example", GLOBEX_MX)
    assert check(build(sender=BOB), ip="2001:db8::25").spf == "pass"
    assert check(build(sender=BOB), ip=GLOBEX_MX).spf == "pass"
    assert check(build(sender=BOB), ip=FORGER).spf == "fail"


def test_spf_over_ten_lookups_is_a_permerror(dns_zone: Any) -> None:
    """RFC 7208 4.6.4: at most 10 terms that query DNS."""
    includes = " ".join(f"include:s{n}.globex.example" for n in range(11))
    dns_zone.publish_spf("globex.example", f"v=spf1 {includes} -all")
    for n in range(11):
        dns_zone.publish_spf(f"s{n}.globex.example", "v=spf1 ip4:192.0.2.1 -all")
    assert check(build(sender=BOB)).spf == "permerror"


def test_spf_record_longer_than_a_udp_answer_is_read_over_tcp(dns_zone: Any) -> None:
    addresses = " ".join(f"ip4:192.0.2.{n}" for n in range(1, 60))
    dns_zone.publish_spf("globex.example", f"v=spf1 {addresses} ip4:{GLOBEX_MX} -all")
    assert check(build(sender=BOB)).spf == "pass"


def test_spf_servfail_is_a_temperror(dns_zone: Any) -> None:
    dns_zone.servfail = True
    verdict = check(build(sender=BOB))
    assert (verdict.spf, verdict.dmarc, verdict.judgment) == (
        "temperror",
        "temperror",
        SenderCheck.NONE,
    )


def test_no_client_ip_means_no_spf_and_says_why(globex_dns: Any) -> None:
    verdict = check(build(sender=BOB), ip=None)
    assert verdict.spf == "none"
    assert "no client IP known" in verdict.summary


@pytest.mark.parametrize("ip", ["", "not an address", "999.1.1.1", "\x00"])
def test_garbage_client_ip_means_no_spf(globex_dns: Any, ip: str) -> None:
    assert check(build(sender=BOB), ip=ip).spf == "none"


def test_null_envelope_sender_checks_the_helo_name(dns_zone: Any) -> None:
    dns_zone.publish_spf("mx.globex.example", f"v=spf1 ip4:{GLOBEX_MX} -all")
    verdict = check(build(sender=BOB), envelope=None, helo="mx.globex.example")
    assert (verdict.spf, verdict.spf_domain, verdict.spf_aligned) == (
        "pass",
        "mx.globex.example",
        True,
    )
    assert check(build(sender=BOB), envelope="", helo="mx.globex.example", ip=FORGER).spf == "fail"


def test_spf_pass_for_an_unaligned_domain_does_not_vouch_for_from(dns_zone: Any) -> None:
    """A forger's own server passes SPF for the forger's domain, not for globex's From:."""
    dns_zone.publish_spf("forger.example", f"v=spf1 ip4:{FORGER} -all")
    verdict = check(build(sender=BOB), envelope="x@forger.example", ip=FORGER)
    assert (verdict.spf, verdict.spf_aligned) == ("pass", False)
    assert verdict.judgment == SenderCheck.FAIL


# ---- DKIM ----


def test_dkim_body_tampered_fails(globex_dns: Any) -> None:
    raw = globex_dns.key.sign(build(sender=BOB, body="Please restart."), "globex.example")
    raw = raw.replace(b"Please restart.", b"Please wire money.")
    verdict = check(raw, ip=None)
    assert (verdict.dkim, verdict.dkim_domain) == ("fail", "globex.example")
    assert verdict.judgment == SenderCheck.FAIL


def test_dkim_signed_header_tampered_fails(globex_dns: Any) -> None:
    raw = globex_dns.key.sign(build(sender=BOB, subject="Printer"), "globex.example")
    raw = raw.replace(b"Subject: Printer", b"Subject: CRITICAL: site down")
    assert check(raw, ip=None).dkim == "fail"


def test_dkim_unknown_selector_is_a_permerror(globex_dns: Any) -> None:
    other = DkimKey(selector="gone")
    verdict = check(other.sign(build(sender=BOB), "globex.example"), ip=None)
    assert verdict.dkim == "permerror"


def test_no_signature_is_dkim_none(globex_dns: Any) -> None:
    assert check(build(sender=BOB), ip=None).dkim == "none"


def test_signature_of_another_domain_is_not_aligned(dns_zone: Any) -> None:
    key = DkimKey(selector="m1")
    dns_zone.publish_dkim("mailer.example.net", "m1", key.public)
    verdict = check(key.sign(build(sender=BOB), "mailer.example.net"), ip=None)
    assert (verdict.dkim, verdict.dkim_domain, verdict.dkim_aligned) == (
        "pass",
        "mailer.example.net",
        False,
    )
    assert verdict.judgment == SenderCheck.FAIL


def test_the_aligned_signature_wins_among_several(globex_dns: Any) -> None:
    mailer = DkimKey(selector="m1")
    globex_dns.publish_dkim("mailer.example.net", "m1", mailer.public)
    raw = mailer.sign(
        globex_dns.key.sign(build(sender=BOB), "globex.example"), "mailer.example.net"
    )
    verdict = check(raw, ip=None)
    assert (verdict.dkim, verdict.dkim_domain, verdict.dkim_aligned) == (
        "pass",
        "globex.example",
        True,
    )


def test_a_subdomain_signature_is_aligned_relaxed_but_not_strict(dns_zone: Any) -> None:
    key = DkimKey()
    dns_zone.publish_dkim("news.globex.example", key.selector, key.public)
    raw = key.sign(build(sender=BOB), "news.globex.example")
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    assert check(raw, ip=None).judgment == SenderCheck.PASS
    dns_zone.clear()
    from casedesk.lib.dnsresolver import clear_caches

    clear_caches()
    dns_zone.publish_dkim("news.globex.example", key.selector, key.public)
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject; adkim=s")
    verdict = check(raw, ip=None)
    assert (verdict.dkim, verdict.dkim_aligned, verdict.dmarc) == ("pass", False, "fail")
    assert verdict.judgment == SenderCheck.FAIL


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "v=1; a=rsa-sha256; d=globex.example",  # no b=, bh=, s=, h=
        "v=1; a=rsa-sha256; d=globex.example; s=s1; h=from; bh=!!!; b=###",
        "v=1; a=rot13; d=globex.example; s=s1; h=from; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=; s=; h=; bh=; b=",
        "v=1; a=rsa-sha256; d=globex.example; s=s1; h=from; bh=AAAA; b=AAAA; x=1",  # expired
        "v=1; a=rsa-sha256; d=" + "x" * 300 + ".example; s=s1; h=from; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=globex.example; s=s1; h=from; l=-5; bh=AAAA; b=AAAA",
    ],
)
def test_garbage_dkim_signature_is_a_permerror(globex_dns: Any, value: str) -> None:
    raw = b"DKIM-Signature: " + value.encode() + b"\r\n" + build(sender=BOB)
    verdict = check(raw, ip=None)
    assert verdict.dkim in ("permerror", "fail")
    assert verdict.judgment != SenderCheck.PASS


@given(st.binary(max_size=300))
def test_any_dkim_signature_bytes_never_raise(dns_server: Any, value: bytes) -> None:
    raw = b"DKIM-Signature: " + value.replace(b"\n", b" ") + b"\r\n" + build(sender=BOB)
    verdict = check(raw, ip=None)
    assert verdict.dkim in ("none", "permerror", "fail", "temperror")


def test_a_key_record_that_is_not_a_key_is_a_permerror(dns_zone: Any) -> None:
    key = DkimKey()
    dns_zone.txt(f"{key.selector}._domainkey.globex.example", "v=DKIM1; k=rsa; p=bm90IGEga2V5")
    assert check(key.sign(build(sender=BOB), "globex.example"), ip=None).dkim == "permerror"


def test_dkim_key_servfail_is_a_temperror(globex_dns: Any) -> None:
    raw = globex_dns.key.sign(build(sender=BOB), "globex.example")
    globex_dns.servfail = True
    assert check(raw, ip=None).dkim == "temperror"


def test_a_client_ip_of_another_type_is_read_as_text(globex_dns: Any) -> None:
    import ipaddress

    address: Any = ipaddress.ip_address(GLOBEX_MX)
    assert check(build(sender=BOB), ip=address).spf == "pass"


# ---- DMARC ----


@pytest.mark.parametrize("policy", ["reject", "quarantine"])
def test_dmarc_enforced_policy_fails_an_unverified_message(dns_zone: Any, policy: str) -> None:
    dns_zone.publish_dmarc("globex.example", f"v=DMARC1; p={policy}")
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.dmarc, verdict.dmarc_policy, verdict.judgment) == (
        "fail",
        policy,
        SenderCheck.FAIL,
    )


def test_dmarc_p_none_does_not_fail_a_message_without_answers(dns_zone: Any) -> None:
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=none; rua=mailto:d@globex.example")
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.dmarc, verdict.dmarc_policy, verdict.judgment) == (
        "fail",
        "none",
        SenderCheck.NONE,
    )


def test_no_dmarc_record_is_dmarc_none(dns_zone: Any) -> None:
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.dmarc, verdict.dmarc_policy) == ("none", "")


def test_dmarc_falls_back_to_the_organizational_domain_and_its_sp(dns_zone: Any) -> None:
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject; sp=quarantine")
    verdict = check(
        build(sender="ops@eu.mail.globex.example"), envelope="ops@eu.mail.globex.example", ip=FORGER
    )
    assert (verdict.dmarc, verdict.dmarc_policy) == ("fail", "quarantine")
    assert ("_dmarc.eu.mail.globex.example", "TXT") in dns_zone.queries


def test_dmarc_of_a_subdomain_without_sp_takes_p(dns_zone: Any) -> None:
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    assert check(build(sender="ops@eu.globex.example"), ip=FORGER).dmarc_policy == "reject"


def test_a_subdomains_own_dmarc_record_wins(dns_zone: Any) -> None:
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    dns_zone.publish_dmarc("eu.globex.example", "v=DMARC1; p=none")
    assert check(build(sender="ops@eu.globex.example"), ip=FORGER).dmarc_policy == "none"


def test_dmarc_strict_spf_alignment(dns_zone: Any) -> None:
    dns_zone.publish_spf("bounce.globex.example", f"v=spf1 ip4:{GLOBEX_MX} -all")
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject; aspf=s")
    verdict = check(build(sender=BOB), envelope="b@bounce.globex.example")
    assert (verdict.spf, verdict.spf_aligned, verdict.dmarc) == ("pass", False, "fail")
    assert verdict.judgment == SenderCheck.FAIL


def test_dmarc_relaxed_spf_alignment(dns_zone: Any) -> None:
    dns_zone.publish_spf("bounce.globex.example", f"v=spf1 ip4:{GLOBEX_MX} -all")
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    verdict = check(build(sender=BOB), envelope="b@bounce.globex.example")
    assert (verdict.spf_aligned, verdict.dmarc, verdict.judgment) == (
        True,
        "pass",
        SenderCheck.PASS,
    )


@pytest.mark.parametrize(
    ("records", "result", "policy"),
    [
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], "permerror", ""),
        (["v=DMARC1; p=bogus"], "permerror", ""),
        (["v=DMARC1; p=bogus; rua=mailto:d@globex.example"], "fail", "none"),
        (["v=DMARC1"], "permerror", ""),
        (["v=dmarc1; p=reject"], "permerror", ""),
        (["v=spf1 -all", "v=DMARC1; p=quarantine"], "fail", "quarantine"),
        (["v=DMARC1; p=REJECT; sp=nonsense; adkim=x"], "fail", "reject"),
    ],
)
def test_several_or_bad_dmarc_records(
    dns_zone: Any, records: list[str], result: str, policy: str
) -> None:
    for record in records:
        dns_zone.publish_dmarc("globex.example", record)
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.dmarc, verdict.dmarc_policy) == (result, policy)


def test_forger_with_its_own_spf_and_signature_still_fails_dmarc(globex_dns: Any) -> None:
    forger_key = DkimKey(selector="f1")
    globex_dns.publish_spf("forger.example", f"v=spf1 ip4:{FORGER} -all")
    globex_dns.publish_dkim("forger.example", "f1", forger_key.public)
    raw = forger_key.sign(build(sender=BOB, subject="CRITICAL: site down"), "forger.example")
    verdict = check(raw, envelope="x@forger.example", ip=FORGER)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("pass", "pass", "fail")
    assert verdict.judgment == SenderCheck.FAIL


def test_forger_whose_own_dns_fails_cannot_turn_dmarc_fail_into_temperror(globex_dns: Any) -> None:
    globex_dns.servfail_names.add("forger.example")
    verdict = check(build(sender=BOB), envelope="x@forger.example", ip=FORGER)
    assert (verdict.spf, verdict.spf_aligned) == ("temperror", False)
    assert (verdict.dmarc, verdict.judgment) == ("fail", SenderCheck.FAIL)


# ---- Odd messages ----


def test_a_message_without_from(globex_dns: Any) -> None:
    raw = b"To: support@example.com\r\nSubject: no sender\r\n\r\nhello\r\n"
    verdict = verify(raw, from_address="", envelope_from=BOB, client_ip=GLOBEX_MX)
    assert verdict.from_domain == ""
    assert (verdict.spf, verdict.spf_aligned, verdict.dmarc) == ("pass", False, "none")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"DKIM-Signature:\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"From: \xff@\xfe\r\n\r\nx",
    ],
)
def test_garbage_messages_never_raise(globex_dns: Any, raw: bytes) -> None:
    verdict = verify(raw, from_address="\xff@\x00", envelope_from="<>", client_ip="192.0.2.1")
    assert verdict.judgment in (SenderCheck.NONE, SenderCheck.FAIL)


def test_a_burst_from_one_domain_costs_a_few_lookups(globex_dns: Any) -> None:
    raw = globex_dns.key.sign(build(sender=BOB), "globex.example")
    assert check(raw).judgment == SenderCheck.PASS
    first = len(globex_dns.queries)
    for _ in range(5):
        assert check(raw).judgment == SenderCheck.PASS
    assert len(globex_dns.queries) == first  # every answer came from the cache


def test_unanswered_lookups_after_the_budget_are_temperror(globex_dns: Any, settings: Any) -> None:
    """A blackholed server: SPF takes the first per-query timeout, and what the budget
    does not cover is a temperror without asking."""
    settings.MAIL_VERIFY_SECONDS = 1
    globex_dns.blackhole = True
    started = time.monotonic()
    verdict = check(globex_dns.key.sign(build(sender=BOB), "globex.example"))
    # Without the budget: three lookups of 2 s each. With it: the first takes the second.
    assert time.monotonic() - started < 1 + 3
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("temperror", "temperror", "temperror")
    asked = {name for name, _ in globex_dns.queries}
    assert asked == {"globex.example"}  # the key and the DMARC record: not even asked


# ---- The trusted MTA's Authentication-Results, in detail ----


def with_headers(*fields: tuple[str, str], sender: str = BOB) -> bytes:
    """A message whose header starts with ``fields`` in this order (top first)."""
    top = b"".join(f"{name}: {value}\r\n".encode() for name, value in fields)
    return top + build(sender=sender)


def test_trusted_authentication_results_fail_with_dmarc_reject(settings: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    raw = with_headers(
        (
            "Authentication-Results",
            "mx.example.com; spf=fail smtp.mailfrom=globex.example; dkim=none;"
            " dmarc=fail policy.dmarc=reject header.from=globex.example",
        )
    )
    verdict = check(raw, ip=FORGER)
    assert (verdict.spf, verdict.dmarc, verdict.dmarc_policy) == ("fail", "fail", "reject")
    assert verdict.judgment == SenderCheck.FAIL


def test_only_the_top_most_trusted_fields_count(settings: Any) -> None:
    """A sender's own field with our authserv-id below the previous hop's Received: is
    not ours (the MTA should have removed it; this is the second line of defence)."""
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    raw = with_headers(
        ("Authentication-Results", "mx.example.com; spf=fail smtp.mailfrom=globex.example"),
        ("Received", "from forger.example by mx.example.com; Mon, 7 Dec 2026 02:00:00 +0000"),
        ("Authentication-Results", "mx.example.com; dkim=pass header.d=globex.example; dmarc=pass"),
    )
    verdict = check(raw, ip=FORGER)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("fail", "none", "none")
    assert verdict.judgment == SenderCheck.FAIL


def test_several_trusted_fields_of_one_mta_are_read_together(settings: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx1.example.com", "mx2.example.com"]
    raw = with_headers(
        (
            "Authentication-Results",
            "mx2.example.com; dmarc=pass (p=quarantine) header.from=globex.example",
        ),
        (
            "Authentication-Results",
            'mx2.example.com 1; dkim=pass reason="good sig" header.i=@globex.example',
        ),
        ("Authentication-Results", "evil.example; spf=fail"),
        ("Received", "from mail.globex.example by mx2.example.com; Mon, 7 Dec 2026 02:00:00 +0000"),
    )
    verdict = check(raw, ip=None)
    assert (verdict.dkim, verdict.dkim_domain, verdict.dkim_aligned) == (
        "pass",
        "globex.example",
        True,
    )
    assert (verdict.dmarc, verdict.dmarc_policy, verdict.spf) == ("pass", "quarantine", "none")
    assert verdict.source == "Authentication-Results of mx2.example.com"


def test_no_trusted_field_is_no_verdict_and_no_dns(settings: Any, dns_zone: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    dns_zone.publish_spf("globex.example", f"v=spf1 ip4:{GLOBEX_MX} -all")
    verdict = check(build(sender=BOB), ip=FORGER)
    assert (verdict.spf, verdict.judgment) == ("none", SenderCheck.NONE)
    assert "no Authentication-Results of mx.example.com" in verdict.summary
    assert dns_zone.queries == []


@given(st.text(max_size=300))
def test_garbage_in_a_trusted_field_never_raises(value: str) -> None:
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    value = "".join(c for c in value if c not in "\r\n")
    raw = (
        b"Authentication-Results: mx.example.com; "
        + value.encode("utf-8", "surrogateescape")
        + b"\r\n"
    )
    with override_settings(MAIL_TRUSTED_AUTHSERV_ID=["mx.example.com"]):
        verdict = check(raw + build(sender=BOB), ip=None)
    assert verdict.source.endswith("mx.example.com")
    assert django_settings.MAIL_TRUSTED_AUTHSERV_ID == []


@pytest.mark.parametrize(
    ("value", "authserv_id", "results"),
    [
        ("mx.example.com; none", "mx.example.com", []),
        (
            "mx.example.com 1; spf=pass smtp.mailfrom=a@b.example",
            "mx.example.com",
            [("spf", "pass")],
        ),
        (
            '"mx.example.com" (comment; with; semicolons) ; dkim = pass (good) header.d=b.example;'
            " dmarc=fail (p=reject) header.from=b.example",
            "mx.example.com",
            [("dkim", "pass"), ("dmarc", "fail")],
        ),
        (
            'mx.example.com; dkim/1=PASS reason="a \\"quoted\\" reason"',
            "mx.example.com",
            [("dkim", "pass")],
        ),
        ("(only a comment", None, None),
        ("", None, None),
        ("mx.example.com; =pass; spf; .x=y", "mx.example.com", []),
    ],
)
def test_reading_authentication_results(value: str, authserv_id: str | None, results: Any) -> None:
    parsed = authresults.parse(value)
    if authserv_id is None:
        assert parsed is None
        return
    assert parsed is not None
    assert parsed.authserv_id == authserv_id
    assert [(r.method, r.result) for r in parsed.results] == results


def test_authentication_results_properties_and_comments() -> None:
    parsed = authresults.parse(
        "mx.example.com; dmarc=fail (p=reject dis=none) header.from=globex.example;"
        ' dkim=pass reason="ok; fine" header.d=globex.example header.s=s1'
    )
    assert parsed is not None
    dmarc, dkim = parsed.results
    assert dmarc.comments == ("p=reject dis=none",)
    assert dmarc.properties == {"header.from": "globex.example"}
    assert (dkim.reason, dkim.properties["header.s"]) == ("ok; fine", "s1")


def test_dmarc_policy_written_as_a_plain_key(settings: Any) -> None:
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    raw = with_headers(
        (
            "Authentication-Results",
            "mx.example.com; dmarc=fail p=quarantine header.from=globex.example",
        )
    )
    verdict = check(raw, ip=None)
    assert (verdict.dmarc, verdict.dmarc_policy, verdict.judgment) == (
        "fail",
        "quarantine",
        SenderCheck.FAIL,
    )


# ---- Whatever the caller passes ----


@given(
    from_address=st.text(max_size=80),
    envelope=st.none() | st.text(max_size=80),
    ip=st.none() | st.text(max_size=40) | st.ip_addresses().map(str),
    helo=st.text(max_size=80),
)
def test_any_addresses_and_ip_give_a_verdict_without_an_internal_error(
    dns_server: Any, from_address: str, envelope: str | None, ip: str | None, helo: str
) -> None:
    verdict = verify(
        build(), from_address=from_address, envelope_from=envelope, client_ip=ip, helo=helo
    )
    assert verdict.source == "DNS"  # not "no check (an error, see the log)"


def test_an_international_from_domain_is_looked_up_in_its_ascii_form(dns_zone: Any) -> None:
    dns_zone.publish_dmarc("xn--bcher-kva.example", "v=DMARC1; p=reject")
    verdict = check(build(), sender="bob@bücher.example", envelope="bob@bücher.example", ip=FORGER)
    assert (verdict.from_domain, verdict.dmarc_policy) == ("xn--bcher-kva.example", "reject")


def test_a_temperror_for_the_from_domain_itself_is_a_dmarc_temperror(dns_zone: Any) -> None:
    """globex's own DNS failing for SPF while its DMARC record answers: no verdict, never a
    suspension on a DNS blip."""
    dns_zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    dns_zone.servfail_names.add("spf.globex.example")
    verdict = check(build(sender=BOB), envelope="bounce@spf.globex.example", ip=FORGER)
    assert (verdict.spf, verdict.spf_aligned, verdict.dmarc) == ("temperror", True, "temperror")
    assert verdict.judgment == SenderCheck.NONE


def test_signatures_past_the_fifth_are_not_checked(globex_dns: Any) -> None:
    """Each signature costs a pass over the body: a message with many is cut at five."""
    garbage = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=globex.example; s=nope; h=from; bh=AAAA; b=AAAA\r\n"
    )
    raw = garbage * 6 + globex_dns.key.sign(build(sender=BOB), "globex.example")
    verdict = check(raw, ip=None)
    assert verdict.dkim == "permerror"
    assert ("s1._domainkey.globex.example", "TXT") not in globex_dns.queries  # the 7th, unread


def test_a_lower_trusted_field_adds_no_results_for_a_method_the_top_one_has(settings: Any) -> None:
    """The MTA's field under its own Received:, then a sender's field with the same id (the
    MTA failed to remove it): the sender's dkim=pass is not read."""
    settings.MAIL_TRUSTED_AUTHSERV_ID = ["mx.example.com"]
    raw = with_headers(
        ("Received", "from forger.example by mx.example.com; Mon, 7 Dec 2026 02:00:00 +0000"),
        (
            "Authentication-Results",
            "mx.example.com; spf=fail smtp.mailfrom=globex.example; dkim=none",
        ),
        ("Authentication-Results", "mx.example.com; dkim=pass header.d=globex.example; spf=pass"),
    )
    verdict = check(raw, ip=FORGER)
    assert (verdict.spf, verdict.dkim, verdict.judgment) == ("fail", "none", SenderCheck.FAIL)


def test_names_without_records_are_cached_too(dns_zone: Any) -> None:
    """NXDOMAIN is kept for the SOA's minimum TTL: a stream of unsigned mail from a domain
    with no SPF or DMARC asks nothing more after the first message."""
    assert check(build(sender=BOB), ip=FORGER).judgment == SenderCheck.NONE
    first = len(dns_zone.queries)
    assert first >= 2
    check(build(sender=BOB), ip=FORGER)
    assert len(dns_zone.queries) == first
