from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from casedesk.core.worker import CasedeskWorker


class Command(BaseCommand):
    help = "Run a task worker (deadlines, email, paging) and the periodic scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds to wait when the queue is empty (default 1).",
        )
        parser.add_argument("--queue", default="default", help="Comma-separated queue names.")
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run every task that is ready now, then exit (no scheduler).",
        )
        parser.add_argument(
            "--max-tasks", type=int, default=None, help="Exit after this many tasks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 0:
            self.stderr.write("--interval must be zero or more")
            raise SystemExit(2)
        worker = CasedeskWorker(
            interval=options["interval"],
            queue_names=options["queue"].split(","),
            batch=options["batch"],
            max_tasks=options["max_tasks"],
        )

        def shutdown(signum: int, frame: FrameType | None) -> None:
            self.stderr.write(
                f"{signal.strsignal(signum)}: finishing the current task, then stopping"
            )
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        if options["verbosity"] > 0 and not options["batch"]:
            self.stdout.write(f"casedesk worker {worker.worker.worker_id} started")
        worker.run_forever()
