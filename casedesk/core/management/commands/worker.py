from __future__ import annotations

import signal
from argparse import ArgumentTypeError
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django_tasks_db.management.commands.db_worker import valid_interval, valid_max_tasks

from casedesk.core.worker import LANES, CasedeskWorker, Supervisor


def queue_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise ArgumentTypeError(f"queue names must not be empty, got {value!r}")
    known = settings.TASKS["default"]["QUEUES"]
    for name in names:
        if name not in known:
            raise ArgumentTypeError(f"unknown queue {name!r} (the queues: {', '.join(known)})")
    if len(set(names)) != len(names):
        raise ArgumentTypeError(f"a queue is named twice in {value!r}")
    return names


class Command(BaseCommand):
    help = (
        "Run a task worker (deadlines, email, paging) and the periodic scheduler: one lane "
        "(child process) per queue, each task stopped at its time budget."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=valid_interval,
            default=None,
            help="Seconds to wait when the queue is empty (default CASEDESK_WORKER_POLL_MS).",
        )
        parser.add_argument(
            "--queue",
            type=queue_names,
            default=list(LANES),
            help=(
                "Comma-separated queues, one lane each (default: critical,default; "
                "`--queue critical` serves paging only)."
            ),
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
        if not options["batch"] and options["max_tasks"] is None:
            self._supervise(options)
            return
        # Batch runs (and --max-tasks) run in this process, one task at a time, with no
        # time budget enforced: they are for scripts and tests, not for serving queues.
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

    def _supervise(self, options: dict[str, Any]) -> None:
        supervisor = Supervisor(options["queue"], interval=options["interval"])

        def shutdown(signum: int, frame: FrameType | None) -> None:
            if supervisor.stopping:
                self.stderr.write("stopping now, abandoning the running tasks (they are requeued)")
                supervisor.stop(wait=0)
                return
            self.stderr.write(
                f"{signal.strsignal(signum)}: finishing the running tasks, then stopping "
                "(again to stop at once)"
            )
            supervisor.stop()

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        if "critical" not in options["queue"]:
            self.stderr.write(
                "this worker does not serve the critical queue (paging): run another "
                "`casedesk worker` or `casedesk worker --queue critical`, or pages wait"
            )
        if options["verbosity"] > 0:
            lanes = ", ".join(options["queue"])
            self.stdout.write(f"casedesk worker {supervisor.worker_id} started (lanes: {lanes})")
        supervisor.run_forever()
