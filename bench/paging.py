"""How long from a critical case opened after hours to the first page handed to Twilio?

Run from the repository root::

    python bench/paging.py [--cases 200] [--every 0.25]

1. Sets up a throw-away embedded SQLite database in a temporary folder and a support
   calendar that is never open (so every case is "after hours"); an on-call team (a
   primary and a secondary, SMS and mail at once) and ``--cases`` client
   organizations, one customer each, so that every case opens its own page.
2. Starts the local Twilio stand-in (``casedesk.oncall.twilio_standin``) in this
   process and the real ``casedesk run`` (web and worker, one process) with
   ``TWILIO_API_BASE`` pointing at the stand-in.
3. Opens the cases one every ``--every`` seconds through ``cases.services.open_case``
   in this process (the signal pages after commit; the worker of ``casedesk run``
   escalates and sends through the real ``twilio`` client), and records, for each
   case, the time from just before ``open_case`` to the moment the stand-in received
   the SMS naming it.

Prints p50, p90, p99 and the maximum. Target: p99 under 2 s on the embedded default
(SQLite). The worker polls its queue every second (``casedesk run``'s worker
interval), which bounds the wait for an idle worker.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from casedesk.core.tests.embedded import embedded_environ, free_port
from casedesk.oncall.twilio_standin import TwilioStandIn

TARGET_P99_SECONDS = 2.0
REFERENCE = re.compile(r"\b(CD-\d+)\b")


def run(environ: dict[str, str], *args: str) -> None:
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "casedesk", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"`casedesk {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")


def set_up(count: int) -> list[Any]:
    """The closed calendar, the team and one customer per organization (in this process)."""
    from casedesk.accounts.models import Organization, User
    from casedesk.hours.models import Calendar
    from casedesk.oncall.models import Layer, LayerMember, NotificationRule, Schedule

    Calendar.objects.create(name="closed", title="Never open", time_zone="America/Chicago")
    pat = User.objects.create_user(
        "pat@example.com", None, role="agent", full_name="Pat Primary", phone="+15555550111"
    )
    kim = User.objects.create_user(
        "kim@example.com", None, role="agent", full_name="Kim Secondary", phone="+15555550112"
    )
    schedule = Schedule.objects.get(name="Support")
    for position, person in ((0, pat), (1, kim)):
        LayerMember.objects.create(
            layer=Layer.objects.get(schedule=schedule, position=position), person=person
        )
        NotificationRule.objects.create(person=person, channel="sms", delay=timedelta(0))
        NotificationRule.objects.create(person=person, channel="email", delay=timedelta(0))
    customers: list[Any] = []
    for i in range(count):
        organization = Organization.objects.create(name=f"Client {i:04d}")
        customers.append(
            User.objects.create_user(
                f"ops{i}@client{i}.example", None, role="customer", organization=organization
            )
        )
    return customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between cases")
    args = parser.parse_args()

    standin = TwilioStandIn().start()
    with tempfile.TemporaryDirectory(prefix="casedesk-paging-") as folder:
        port = free_port()
        environ = embedded_environ(
            Path(folder),
            EMAIL_URL="locmem:",
            CASEDESK_LOG_LEVEL="WARNING",
            CASEDESK_DEFAULT_CALENDAR="closed",
            CASEDESK_BASE_URL=f"http://127.0.0.1:{port}",
            TWILIO_ACCOUNT_SID=standin.account_sid,
            TWILIO_AUTH_TOKEN=standin.auth_token,
            TWILIO_FROM_NUMBER="+15555550199",
            TWILIO_API_BASE=standin.base_url,
            DJANGO_SETTINGS_MODULE="casedesk.settings",
        )
        print("setting up a throw-away embedded database ...", flush=True)
        run(environ, "migrate", "--noinput")
        os.environ.update(environ)
        import django

        django.setup()
        from casedesk.oncall.demo import critical_case

        customers = set_up(args.cases)
        server = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "casedesk", "run", "--port", str(port), "--smtp-port", "0"],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)  # the worker's start-up delay
            opened: dict[str, float] = {}
            for customer in tqdm(customers, desc="opening critical cases", unit="case"):
                started = time.time()
                case = critical_case(customer, "Nobody can log in")
                opened[case.reference] = started
                time.sleep(args.every)
            sent = standin.wait_for(len(opened), timeout=120, kind="Messages")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    standin.stop()

    first: dict[str, float] = {}
    for request in sent:
        match = REFERENCE.search(request.form.get("Body", ""))
        if match and match.group(1) in opened:
            first.setdefault(match.group(1), request.received)
    latencies = sorted(first[ref] - opened[ref] for ref in first)
    missing = len(opened) - len(latencies)
    if not latencies:
        raise SystemExit("no SMS reached the stand-in")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p90, p99 = cuts[49], cuts[89], cuts[98]
    print(f"\n{len(latencies)} of {len(opened)} critical cases paged ({missing} missing)")
    print("case opened -> first SMS received by the Twilio stand-in:")
    print(f"  p50 {p50 * 1000:7.0f} ms")
    print(f"  p90 {p90 * 1000:7.0f} ms")
    verdict = "met" if p99 < TARGET_P99_SECONDS else "MISSED"
    print(
        f"  p99 {p99 * 1000:7.0f} ms   (target < {TARGET_P99_SECONDS * 1000:.0f} ms: "
        f"{p99 / TARGET_P99_SECONDS:.2f} x the target, {verdict})"
    )
    print(f"  max {latencies[-1] * 1000:7.0f} ms")
    if missing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
