"""Can the timing of the log-in and reset pages tell whether an address has an account?

Run from the repository root::

    python bench/login_timing.py [--n 40] [--seed 1]

Sets up a throw-away SQLite database (casedesk's settings, production password hasher),
then sends the same requests for an address with an account and one without, interleaved
in random order so drift hits both alike:

- a wrong password (the page a guesser sees; the password is hashed either way),
- a log-in while the address is locked (axes refuses before any password check),
- a "forgot your password" request (the mail is left to the worker for both).

It prints the median and the 10th-90th percentile of each, and the ratio unknown/known
of the medians: the comparison is the known address itself, and 1.00 means the pages
cannot be told apart by their timing. Requests go through Django's test client in this
process (the whole middleware and view stack, no network), so the figures are the
server's own time.

Target, a closing line per kind with pass or MISS: the ratio within 0.80-1.25 (a
quarter either way). Issue 3 asked that an address with an account get "the same pages
and timing" and named no number; its run at ``--n 40`` gave 0.99-1.02, a run at
``--n 10`` on a busy 2-core machine 0.89-1.17. A leak is far outside the band (a
password hash skipped for an unknown address would put the wrong-password ratio near
0.02: a 5 ms page against a 220 ms hash), while the noise of medians stays inside it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _verdict import verdict
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KNOWN = "alice@acme.example"
UNKNOWN = "nobody@acme.example"
PASSWORD = "bench-password-for-alice-1"  # noqa: S105 - a throw-away database
RATIO_BAND = (0.80, 1.25)  # median(unknown) / median(known): see the docstring


def _setup(var_dir: str) -> None:
    os.environ.update(
        CASEDESK_VAR_DIR=var_dir,
        DATABASE_URL=f"sqlite:///{var_dir}/bench.sqlite3",
        EMAIL_URL="locmem:",
        DJANGO_SETTINGS_MODULE="casedesk.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from casedesk.accounts.models import Organization, User

    acme = Organization.objects.create(name="Acme")
    User.objects.create_user(KNOWN, PASSWORD, organization=acme)


def _forget_failures() -> None:
    from casedesk.accounts.models import LockoutEvent, LoginFailure
    from casedesk.core.models import RateLimitBucket

    LoginFailure.objects.all().delete()
    LockoutEvent.objects.all().delete()
    RateLimitBucket.objects.all().delete()


def _lock(email: str) -> None:
    from casedesk.accounts import lockout

    for _ in range(5):
        lockout.record_failure(email, "198.51.100.1")


def _lock_both() -> None:
    _lock(KNOWN)
    _lock(UNKNOWN)


def _forget_network_counts() -> None:
    from casedesk.core.models import RateLimitBucket

    RateLimitBucket.objects.all().delete()


def _timed(
    call: Callable[[str], int], email: str, expected: int, before: Callable[[], None]
) -> float:
    before()  # set-up for this request, not timed
    start = time.perf_counter()
    status = call(email)
    elapsed = time.perf_counter() - start
    if status != expected:
        raise SystemExit(f"unexpected status {status} (wanted {expected})")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="requests per address and kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="casedesk-bench-") as var_dir:
        _setup(var_dir)
        from django.conf import settings
        from django.test import Client

        hasher = settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
        client = Client(HTTP_HOST="127.0.0.1")

        def wrong_password(email: str) -> int:
            return client.post(
                "/accounts/login/", {"username": email, "password": "wrong-guess"}
            ).status_code

        def while_locked(email: str) -> int:
            return client.post(
                "/accounts/login/", {"username": email, "password": PASSWORD}
            ).status_code

        def reset(email: str) -> int:
            return client.post("/accounts/password_reset/", {"email": email}).status_code

        # (label, request, expected status, set-up once, set-up before each request)
        kinds: list[
            tuple[str, Callable[[str], int], int, Callable[[], None], Callable[[], None]]
        ] = [
            ("wrong password", wrong_password, 200, _forget_failures, _forget_failures),
            ("log-in while locked", while_locked, 429, _lock_both, _forget_network_counts),
            ("forgot your password", reset, 302, _forget_failures, _forget_failures),
        ]
        print(f"casedesk log-in timing, {args.n} requests per address and kind, hasher {hasher}")
        print(f"{'request':<22} {'address':<8} {'median ms':>10} {'p10-p90 ms':>16}  ratio")
        ratios: dict[str, float] = {}
        for label, call, expected, prepare, before_each in kinds:
            _forget_failures()
            prepare()
            times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
            order = [KNOWN, UNKNOWN] * args.n
            rng.shuffle(order)
            for email in tqdm(order, desc=label, leave=False, file=sys.stderr):
                times[email].append(_timed(call, email, expected, before_each))
            medians = {email: statistics.median(values) for email, values in times.items()}
            ratios[label] = medians[UNKNOWN] / medians[KNOWN]
            for email, name in ((KNOWN, "known"), (UNKNOWN, "unknown")):
                deciles = statistics.quantiles(times[email], n=10)
                ratio = f"{medians[UNKNOWN] / medians[KNOWN]:.2f}" if email == UNKNOWN else ""
                print(
                    f"{label:<22} {name:<8} {medians[email]:>10.2f} "
                    f"{deciles[0]:>7.2f}-{deciles[-1]:<8.2f} {ratio:>5}"
                )
        print("ratio = median(unknown) / median(known); 1.00 means indistinguishable by timing")
        low, high = RATIO_BAND
        for kind, measured in ratios.items():
            verdict(
                f"{kind}, unknown / known address",
                f"{measured:.2f}",
                f"{low:.2f}-{high:.2f}",
                low <= measured <= high,
            )


if __name__ == "__main__":
    main()
