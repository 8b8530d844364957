"""What checking a sender costs (issue 17): ``mail.senders.verify`` per second against the
tests' local DNS server, with a cold cache (every lookup asked) and a warm one (a burst of
mail from one domain: answers from the cache until their TTL ends).

Run from the repository root::

    python bench/verify.py [--seconds 5]

Three messages: an RSA-2048 signed one whose domain publishes SPF, DKIM and DMARC (the
common case: SPF, a key and a DMARC record, 3 lookups cold), the same with ed25519, and
an unsigned forgery (SPF fail and DMARC p=reject). Cold: the resolver's cache is emptied
before each verification. Local DNS answers in well under a millisecond, so "cold" here
is the CPU of the checks plus three local round trips; over the internet add the
resolver's round trips (tens of milliseconds each, bounded by CASEDESK_MAIL_VERIFY_SECONDS).

Target, a closing line with pass or MISS: the slowest message at least 260 verifications
a second with a cold cache. Issue 17 named no number; 260 messages a second is issue
18's target for the whole mail pipeline, and checking the sender is one step of it, so
on its own, in the worst case (every lookup asked), it must go at least that fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casedesk.settings")

from _verdict import at_least

TARGET_COLD_PER_SECOND = 260.0  # the mail pipeline's whole target (issue 18)


def rate(work: Callable[[], object], seconds: float) -> tuple[float, int]:
    """Verifications per second, and how many ran."""
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        work()
        count += 1
    return count / (time.perf_counter() - started), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from casedesk.lib import dnsresolver
    from casedesk.mail.senders import verify
    from casedesk.mail.tests.conftest import build
    from casedesk.mail.tests.dnsserver import DkimKey, DNSServer

    server = DNSServer().start()
    settings.MAIL_DNS_SERVERS = [server.address]
    zone = server.zone
    rsa_key, ed_key = DkimKey(selector="rsa"), DkimKey(selector="ed", kind="ed25519")
    zone.publish_spf("globex.example", "v=spf1 ip4:198.51.100.25 -all")
    zone.publish_dkim("globex.example", "rsa", rsa_key.public)
    zone.publish_dkim("globex.example", "ed", ed_key.public, "ed25519")
    zone.publish_dmarc("globex.example", "v=DMARC1; p=reject")
    message = build(sender="bob@globex.example", body="The printer is on fire.\n" * 40)
    cases = {
        "rsa-sha256 signed, SPF pass": (rsa_key.sign(message, "globex.example"), "198.51.100.25"),
        "ed25519 signed, SPF pass": (ed_key.sign(message, "globex.example"), "198.51.100.25"),
        "forged (SPF fail, p=reject)": (message, "203.0.113.66"),
    }
    print(f"verify() against a local DNS server, {args.seconds:g} s per figure")
    print(f"{'message':32} {'cold cache':>14} {'warm cache':>14}  lookups cold")
    resolver = dnsresolver.shared(settings.MAIL_DNS_SERVERS)
    cold_rates: dict[str, float] = {}
    for name, (raw, ip) in cases.items():

        def once(raw: bytes = raw, ip: str = ip) -> object:
            return verify(
                raw,
                from_address="bob@globex.example",
                envelope_from="bob@globex.example",
                client_ip=ip,
            )

        def cold(once: Callable[[], object] = once) -> object:
            resolver.clear_cache()
            return once()

        before = len(zone.queries)
        cold()
        lookups = len(zone.queries) - before
        cold_rate, _ = rate(cold, args.seconds)
        once()
        warm_rate, _ = rate(once, args.seconds)
        print(f"{name:32} {cold_rate:>10.0f} / s {warm_rate:>10.0f} / s  {lookups}")
        cold_rates[name] = cold_rate
    server.stop()
    slowest = min(cold_rates, key=cold_rates.__getitem__)
    print()
    at_least(
        f"verifications a second, cold cache, slowest ({slowest})",
        cold_rates[slowest],
        TARGET_COLD_PER_SECOND,
        "/s",
    )


if __name__ == "__main__":
    main()
