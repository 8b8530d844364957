from __future__ import annotations

import signal
from argparse import ArgumentTypeError
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tasks_db.management.commands.db_worker import valid_interval, valid_max_tasks

from casedesk.core.worker import CasedeskWorker


def queue_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise ArgumentTypeError(f"queue names must not be empty, got {value!r}")
    return names


class Command(BaseCommand):
    help = "Run a task worker (deadlines, email, paging) and the periodic scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=valid_interval,
            default=None,
            help="Seconds to wait when the queue is empty (default CASEDESK_WORKER_POLL_MS).",
        )
        parser.add_argument(
            "--queue", type=queue_names, default=["default"], help="Comma-separated queue names."
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run every task that is ready now, then exit (no scheduler).",
        )
        parser.add_argument(
            "--max-tasks", type=valid_max_tasks, default=None, help="Exit after this many tasks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = CasedeskWorker(
            interval=options["interval"],
            queue_names=options["queue"],
            batch=options["batch"],
            max_tasks=options["max_tasks"],
        )

        def shutdown(signum: int, frame: FrameType | None) -> None:
            if not worker.worker.running:
                self.stderr.write("stopping now, abandoning the current task (it will be requeued)")
                raise SystemExit(1)
            self.stderr.write(
                f"{signal.strsignal(signum)}: finishing the current task, then stopping "
                "(again to stop at once)"
            )
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        if options["verbosity"] > 0 and not options["batch"]:
            self.stdout.write(f"casedesk worker {worker.worker.worker_id} started")
        worker.run_forever()
