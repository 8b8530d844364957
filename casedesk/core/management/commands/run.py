"""casedesk run: the whole desk in one process (the embedded default).

The ASGI web server (uvicorn) runs in the main thread and the SMTP receiver in a
thread; the task worker runs as a child process (`casedesk worker`: a supervisor
with a critical lane and a default lane, each a process of its own, so a page
never waits behind mail and a task over its time budget can really be stopped).
The child is started before any thread, dies with this process, and is stopped
(finishing its running tasks) when this process stops.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from uvicorn.supervisors import Multiprocess

from casedesk.core.demo import existing_demo_logins
from casedesk.core.worker import LANES, die_with_parent

# 64 KiB: the largest WebSocket frame a client may send (see uvicorn.Config below).
WS_MAX_SIZE = 65536


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """The socket uvicorn's supervisor hands its web processes, marked as a TCP socket.

    uvicorn's ``Config.bind_socket()`` leaves the socket's ``proto`` at 0, accepted
    connections inherit it, and asyncio only turns on TCP_NODELAY for a connection whose
    ``proto`` is TCP (uvicorn issue 3149). With Nagle's algorithm on, every response on a
    keep-alive connection waited for the client's delayed acknowledgement, ~40 ms on
    Linux: the desk queue took 80 ms on two web processes and 26 ms on one (issue 18).
    """
    bound = config.bind_socket()
    if bound.family in (socket.AF_INET, socket.AF_INET6) and bound.proto != socket.IPPROTO_TCP:
        return socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    return bound


class Command(BaseCommand):
    help = "Run casedesk in one process: web server (ASGI) and task worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Web address (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Web port (default 8000).")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not run a task worker in this process."
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            default=1,
            help="Web server processes (default 1; about one per core at scale, README "
            '"Running at scale").',
        )
        parser.add_argument(
            "--smtp-port",
            type=int,
            default=settings.SMTP_PORT,
            help=f"Port of the SMTP receiver (default {settings.SMTP_PORT}; 0: do not start it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1-65535)")
        web_workers = options["web_workers"]
        if not 1 <= web_workers <= 64:
            raise CommandError(f"--web-workers {web_workers} must be 1 to 64")
        smtp_port = options["smtp_port"]
        if not 0 <= smtp_port < 65536:
            raise CommandError(f"--smtp-port {smtp_port} is not a TCP port (0 turns it off)")
        self._check_migrated()
        web = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        self.stdout.write(self._banner(web, worker=not options["no_worker"], smtp_port=smtp_port))

        worker = None if options["no_worker"] else self._start_worker()
        receiver = None
        if smtp_port:
            from casedesk.mail.smtp import Receiver

            receiver = Receiver(settings.SMTP_HOST, smtp_port)
            try:
                receiver.start()
            except OSError as exc:
                if worker is not None:
                    self._stop_worker(worker)
                raise CommandError(
                    f"cannot listen for mail on {settings.SMTP_HOST}:{smtp_port}: {exc} "
                    "(--smtp-port 0 runs without the SMTP receiver)"
                ) from None
        try:
            config = uvicorn.Config(
                "casedesk.asgi:application",
                host=host,
                port=port,
                lifespan="off",
                log_level="info" if options["verbosity"] > 0 else "warning",
                proxy_headers=getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None,
                # The largest WebSocket frame a client may send. uvicorn's default (16 MiB)
                # lets one chat socket make the server buffer and parse megabytes of JSON;
                # a chat frame is a message of at most 4,000 characters (files go over HTTP).
                ws_max_size=WS_MAX_SIZE,
                workers=web_workers,
            )
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the
            # signal; make SIGTERM arrive as KeyboardInterrupt too, and treat
            # either as the normal way to stop.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            if web_workers > 1:
                # uvicorn's supervisor: it binds the socket here and starts (spawns) the
                # processes, each importing casedesk.asgi afresh and serving that socket.
                Multiprocess(config, sockets=[listening_socket(config)]).run()
            else:
                uvicorn.Server(config).run()
        except KeyboardInterrupt:
            pass
        finally:
            if receiver is not None:
                receiver.stop()
            if worker is not None:
                self.stdout.write("stopping the worker (finishing the running tasks)...")
                self._stop_worker(worker)

    def _start_worker(self) -> subprocess.Popen[bytes]:
        # Its own session: a Ctrl-C in the terminal reaches this process only, which then
        # stops the worker once (a second signal would abandon the running tasks).
        return subprocess.Popen(
            [sys.executable, "-m", "casedesk", "worker", "-v0"],
            start_new_session=True,
            preexec_fn=die_with_parent,  # safe: no thread runs yet
        )

    def _stop_worker(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=35)  # the worker gives its lanes 30 s
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    def _check_migrated(self) -> None:
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise CommandError(f"cannot reach the database: {exc}") from None
        if pending:
            raise CommandError(
                f"{len(pending)} migration(s) not applied; run `casedesk migrate` first"
            )

    def _banner(self, web: str, *, worker: bool, smtp_port: int = 0) -> str:
        engine = str(settings.DATABASES["default"]["ENGINE"]).rsplit(".", 1)[-1]
        lines = [
            "",
            "casedesk is starting",
            f"  front door        {web}/  (a log-in lands on the portal or the desk)",
            f"  customer portal   {web}/portal/",
            f"  agent desk        {web}/desk/",
            f"  mail (agents)     {web}/desk/mail/",
            f"  on call           {web}/desk/oncall/",
            f"  emergency line    {web}/phone/voice  (call it: casedesk phone simulate)",
            f"  calls and fees    {web}/desk/phone/  (report {web}/desk/phone/fees/)",
            f"  organizations     {web}/desk/organizations/",
            f"  chat console      {web}/desk/chat/",
            f"  incidents (desk)  {web}/desk/status/",
            f"  status page       {web}/status/  (API {web}/status/api/v2/summary.json)",
            f"  case priorities   {web}/help/priorities/",
            f"  support hours     {web}/hours/",
            f"  hours API         {web}/api/hours/status",
            f"  log in            {web}/accounts/login/",
            f"  help              {web}/help/",
            f"  admin             {web}/admin/",
            f"  health            {web}/health/",
            (
                f"  task worker       lanes {', '.join(LANES)} (a child process)"
                if worker
                else "  task worker       not started (--no-worker)"
            ),
            (
                f"  mail (SMTP)       {settings.SMTP_HOST}:{smtp_port} for "
                f"{', '.join(settings.SUPPORT_EMAILS)}"
                if smtp_port
                else "  mail (SMTP)       not started (--smtp-port 0)"
            ),
            f"  database          {engine}",
        ]
        logins = existing_demo_logins()
        if logins:
            lines.append("  demo logins")
            lines += [f"    {login.role:<8} {login.email:<20} {login.password}" for login in logins]
        lines.append("")
        return "\n".join(lines)
