"""casedesk imap: fetch mail from the mailboxes in CASEDESK_IMAP_MAILBOXES.

Runs until SIGTERM or Ctrl-C (one thread per mailbox, IDLE where offered);
``--once`` makes one round over every mailbox, prints what each stored, and
exits 1 if any failed. A bad mailbox URL exits 2 before anything connects.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from casedesk.mail import imap

EX_CONFIG = 2


class Command(BaseCommand):
    help = "Fetch mail from the IMAP mailboxes in CASEDESK_IMAP_MAILBOXES."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="One round over every mailbox, print how many were stored, then exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mailboxes = imap.parse_mailboxes(settings.IMAP_MAILBOXES)
        except ValueError as exc:
            self.stderr.write(f"imap: {exc}")
            raise SystemExit(EX_CONFIG) from None
        if not mailboxes:
            self.stderr.write("imap: no mailboxes: set CASEDESK_IMAP_MAILBOXES (see README)")
            raise SystemExit(EX_CONFIG)
        if options["once"]:
            self.once(mailboxes)
        else:
            self.forever(mailboxes, options["verbosity"])

    def once(self, mailboxes: list[imap.Mailbox]) -> None:
        failed = False
        for mailbox in mailboxes:
            try:
                result = imap.fetch_once(mailbox)
            except imap.ROUND_ERRORS as exc:
                failed = True
                problem = imap.describe(exc)
                imap.record_error(mailbox, problem)
                self.stderr.write(f"{mailbox.label}: failed: {problem}")
                continue
            line = f"{mailbox.label}: {result.stored} stored"
            if result.too_large:
                line += f", {len(result.too_large)} too large (left in the folder)"
            self.stdout.write(line)
        if failed:
            raise SystemExit(1)

    def forever(self, mailboxes: list[imap.Mailbox], verbosity: int) -> None:
        stop = threading.Event()

        def shutdown(signum: int, frame: FrameType | None) -> None:
            self.stderr.write(f"{signal.strsignal(signum)}: stopping")
            stop.set()

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        threads = imap.start(mailboxes, stop)
        if verbosity > 0:
            labels = ", ".join(mailbox.label for mailbox in mailboxes)
            self.stdout.write(f"casedesk imap watching {labels}")
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)
