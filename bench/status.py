"""How many requests a second do summary.json and /status/ take, against a static file?

Run from the repository root::

    python bench/status.py [--workers 2] [--concurrency 16] [--requests 3000]

1. Sets up a throw-away SQLite database in a temporary folder (``casedesk migrate``,
   ``collectstatic``, ``casedesk demo``: six components in two groups, a resolved
   and an open incident, upcoming maintenance), and writes two static files of
   exactly the size of ``summary.json`` and of ``/status/`` into the static root.
2. Starts the production-style server: ``uvicorn casedesk.asgi:application
   --workers N`` (the README's "several web processes"), production mode
   (CASEDESK_DEBUG=0), on 127.0.0.1.
3. A bounded load client (asyncio, ``--concurrency`` keep-alive connections, each
   sending its next request when the last answer is in; no other traffic) sends
   ``--requests`` requests to each target after a warm-up, and prints requests per
   second and p50/p99 latency, then the ratio of each status document to the
   static file of the same size served by the same server (WhiteNoise): the
   ceiling, since a static file costs no view, no database and no template.

The client runs on the same machine as the server (2 cores here), so the absolute
numbers are a floor; the ratios are the comparison.

Target, a closing line per document with pass or MISS: at least 0.75 of the static
file's requests per second. Issue 8 asked for the ratio and named no number; the page
is what customers reload when something is down, so it should cost about what a static
file does. Its runs gave 0.80-0.99 (``summary.json``) and 0.81-0.92 (``/status/``);
0.75 leaves room for the noise of a shared machine, and a cache that stopped working
(a query and a template on every request) falls far below it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _verdict import at_least
from desk import casedesk, environ_for, stop, wait_for_server

from casedesk.core.tests.embedded import free_port

TARGET_OF_CEILING = 0.75  # of a static file's requests per second: see the docstring


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    expect: int = 200
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Result:
    target: Target
    times_ms: list[float]
    elapsed_s: float
    body_bytes: int

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[p - 1]

    @property
    def per_second(self) -> float:
        return len(self.times_ms) / self.elapsed_s


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, int]:
    """One request on a keep-alive connection; returns (status, body length)."""
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        if name.strip().lower() == "transfer-encoding":
            raise SystemExit("chunked responses are not expected here")
    if length:
        await reader.readexactly(length)
    return status, length


async def load(port: int, target: Target, requests: int, concurrency: int) -> Result:
    headers = [("Host", f"127.0.0.1:{port}"), ("X-Forwarded-Proto", "https"), *target.headers]
    raw = (
        f"GET {target.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    ).encode()
    times: list[float] = []
    sizes: list[int] = []
    remaining = requests
    progress = tqdm(
        total=requests, desc=target.label, leave=False, file=sys.stderr, mininterval=0.5
    )

    started, all_ready, ready = asyncio.Event(), asyncio.Event(), 0

    async def connection(warm_up: int) -> None:
        nonlocal remaining, ready
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(warm_up):
                await _request(reader, writer, raw)
            ready += 1
            if ready == concurrency:
                all_ready.set()
            await started.wait()
            while remaining > 0:
                remaining -= 1
                before = time.perf_counter()
                status, length = await _request(reader, writer, raw)
                times.append((time.perf_counter() - before) * 1000)
                sizes.append(length)
                progress.update()
                if status != target.expect:
                    raise SystemExit(f"{target.path}: status {status}, expected {target.expect}")
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection(warm_up=20)) for _ in range(concurrency)]
    await all_ready.wait()  # every connection warmed up (each worker's cache filled)
    begin = time.perf_counter()
    started.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    progress.close()
    return Result(target, times, elapsed, sizes[0] if sizes else 0)


def fetch(port: int, path: str) -> bytes:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "GET", path, headers={"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https"}
    )
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: status {response.status}")
    etag = response.headers.get("ETag", "")
    connection.close()
    return etag.encode() + b"\n" + body


def start_server(environ: dict[str, str], port: int, workers: int) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "uvicorn",
            "casedesk.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
            "--proxy-headers",
        ],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # stop() can kill its whole group
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--concurrency", type=int, default=16, help="connections at once")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per target")
    args = parser.parse_args()
    if not (1 <= args.workers <= 64 and 1 <= args.concurrency <= 1024 and args.requests >= 100):
        raise SystemExit("--workers 1..64, --concurrency 1..1024, --requests at least 100")

    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory(prefix="casedesk-bench-status-") as folder:
        environ = environ_for(Path(folder))
        casedesk(environ, "migrate", "-v0")
        casedesk(environ, "collectstatic", "--noinput", "-v0")
        casedesk(environ, "demo", "--force")

        # Measure the documents' sizes on a first server, then write static twins.
        port = free_port()
        server = start_server(environ, port, 1)
        try:
            wait_for_server(port, server)
            summary = fetch(port, "/status/api/v2/summary.json")
            page = fetch(port, "/status/")
        finally:
            stop(server)
        etag, _, summary_body = summary.partition(b"\n")
        page_body = page.partition(b"\n")[2]
        static = Path(environ["CASEDESK_VAR_DIR"]) / "static" / "bench"
        static.mkdir(parents=True, exist_ok=True)
        (static / "summary-twin.json").write_bytes(summary_body)
        (static / "page-twin.html").write_bytes(page_body)

        targets = [
            Target("summary.json", "/status/api/v2/summary.json"),
            Target(
                "summary.json 304",
                "/status/api/v2/summary.json",
                304,
                (("If-None-Match", etag.decode()),),
            ),
            Target("static, summary size", "/static/bench/summary-twin.json"),
            Target("/status/", "/status/"),
            Target("static, page size", "/static/bench/page-twin.html"),
        ]
        port = free_port()
        server = start_server(environ, port, args.workers)
        try:
            wait_for_server(port, server)
            results = {
                t.label: asyncio.run(load(port, t, args.requests, args.concurrency))
                for t in targets
            }
        finally:
            stop(server)

    print(
        f"casedesk status bench: uvicorn --workers {args.workers}, production mode, SQLite, "
        f"{os.cpu_count()} CPUs shared with the client; {args.concurrency} keep-alive "
        f"connections, {args.requests} requests per target; load average before "
        f"{load_before:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print(f"{'target':<22} {'bytes':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for result in results.values():
        print(
            f"{result.target.label:<22} {result.body_bytes:>7} {result.per_second:>8.0f} "
            f"{result.percentile(50):>8.2f} {result.percentile(99):>8.2f}"
        )
    for mine, ceiling in (
        ("summary.json", "static, summary size"),
        ("/status/", "static, page size"),
    ):
        ratio = results[mine].per_second / results[ceiling].per_second
        at_least(
            f"{mine} req/s / a static file's of the same size", ratio, TARGET_OF_CEILING, digits=2
        )


if __name__ == "__main__":
    main()
