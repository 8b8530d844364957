"""How fast does the REST API list and show cases with 100,000 of them (issue 20)?

Run from the repository root::

    python bench/api.py [--cases 100000] [--requests 200] [--postgres URL]

1. The set-up of ``bench/desk.py`` (its helpers): a throw-away SQLite database, or with
   ``--postgres URL`` that PostgreSQL database (created if missing; cases already in it
   count, so a database seeded by ``bench/desk.py`` is reused), ``casedesk demo`` and
   ``casedesk cases seed`` up to ``--cases``.
2. A personal API token for the demo agent and one for alice of Acme, made here as
   ``casedesk tokens create`` makes them, each page its own token (the per-token rate
   limit, 600 a minute by default, stays on: production pays for it too).
3. ``casedesk run --no-worker`` (uvicorn, production mode), and ``--requests`` requests one
   after another over one keep-alive connection per page: the agent's case list
   ``/api/v1/cases/`` (50 a page), the agent's open cases ``?status=open``, alice's list
   (her organization's cases only), one case and its timeline.

Prints p50/p95/p99 per page and the target: p95 under 50 ms for each (issue 20: the case
list through the API at 100,000 cases). The client shares the machine (2 cores here).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _verdict import under
from desk import (
    casedesk,
    ensure_postgres_database,
    environ_for,
    start_web,
    steady_state,
    stop,
    wait_for_server,
)

from casedesk.core.tests.embedded import free_port

TARGET_P95_MS = 50.0


def get(connection: http.client.HTTPConnection, token: str, path: str) -> tuple[int, bytes]:
    connection.request(
        "GET",
        path,
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"},
    )
    response = connection.getresponse()
    return response.status, response.read()


def measure(port: int, token: str, label: str, path: str, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(3):  # warm-up
        get(connection, token, path)
    times = []
    for _ in tqdm(range(count), desc=label, leave=False, file=sys.stderr):
        before = time.perf_counter()
        status, body = get(connection, token, path)
        times.append((time.perf_counter() - before) * 1000)
        if status != 200:
            raise SystemExit(f"{path}: status {status}: {body[:300]!r}")
    connection.close()
    return times


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", default="")
    args = parser.parse_args()
    if args.requests < 10 or args.requests > 550:
        parser.error("--requests from 10 to 550 (each page's token may make 600 a minute)")
    if args.postgres:
        ensure_postgres_database(args.postgres)
    database = "PostgreSQL" if args.postgres else "SQLite"
    with tempfile.TemporaryDirectory(prefix="casedesk-bench-api-") as folder:
        environ = environ_for(Path(folder), args.postgres)
        casedesk(environ, "migrate", "-v0")
        casedesk(environ, "demo", "--force")
        os.environ.update(environ)
        import django

        django.setup()
        from casedesk.accounts.models import User
        from casedesk.api import services
        from casedesk.cases.models import Case

        more = max(args.cases - Case.objects.count(), 0)
        casedesk(environ, "cases", "seed", str(more), "--force", quiet=False)
        if args.postgres:
            steady_state(args.postgres)
        total = Case.objects.count()
        agent = User.objects.get(email="agent@example.com")
        alice = User.objects.get(email="alice@acme.example")
        case = Case.objects.filter(organization=alice.organization).order_by("-pk").first()
        assert case is not None

        def token(person: User) -> str:
            scopes = ["cases:read"]
            return services.create(services.NewToken(person, "bench", scopes))[1]

        pages = [
            ("agent: /api/v1/cases/", agent, "/api/v1/cases/"),
            ("agent: ?status=open", agent, "/api/v1/cases/?status=open"),
            ("alice: /api/v1/cases/", alice, "/api/v1/cases/"),
            (f"agent: {case.reference}", agent, f"/api/v1/cases/{case.reference}/"),
            ("agent: its timeline", agent, f"/api/v1/cases/{case.reference}/timeline/"),
        ]
        tokens = [token(person) for _, person, _ in pages]
        port = free_port()
        server = start_web(environ, port)
        try:
            wait_for_server(port, server)
            results = [
                (label, measure(port, tokens[i], label, path, args.requests))
                for i, (label, _person, path) in enumerate(pages)
            ]
        finally:
            stop(server)
    print(f"\ncasedesk API bench: {total:,} cases, {database}, `casedesk run`, one client")
    for label, times in results:
        print(
            f"  {label:28} p50 {statistics.median(times):6.1f} ms  "
            f"p95 {percentile(times, 95):6.1f} ms  p99 {percentile(times, 99):6.1f} ms"
        )
    for label, times in results:
        under(f"{label}, p95", percentile(times, 95), TARGET_P95_MS, "ms", 1)


if __name__ == "__main__":
    main()
