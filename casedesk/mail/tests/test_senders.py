"""Who sent it: SPF, DKIM and DMARC against the tests' DNS server, the judgment of a
verdict, and the trusted MTA's Authentication-Results (issue 17)."""

from __future__ import annotations

import time
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
    sender: str = BOB,
    envelope: str | None = BOB,
    ip: str | None = GLOBEX_MX,
    helo: str = "",
) -> Verdict:
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
    assert time.monotonic() - started < 2 + 1.5  # the budget, and the CPU of the checks
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
