"""casedesk mailgate: one message on stdin, from a Postfix or Exim pipe.

Exit status is what mail servers understand (sysexits.h): 0 stored, 75
(EX_TEMPFAIL) could not store now (the server keeps the message and retries),
65 (EX_DATAERR) refused for good (empty or too large: the server bounces it),
a ``--client-ip`` that is no IP address is a mistake in the mail server's
configuration, not in the message: exit 75 too, so the server keeps every message
queued (and logs our one-line reason) until the pipe is fixed. Bouncing would return
a customer's critical mail to them; storing it without the address would hide the
mistake. A value Postfix really passes (an address, or nothing for mail submitted on
the machine itself) is never refused.

Postfix's ``pipe`` transport passes what SPF needs: ``--client-ip ${client_address}
--helo ${client_helo}`` (see the README's pipe section).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from casedesk.mail.models import Source
from casedesk.mail.store import MessageTooLarge, client_address, store

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75

logger = logging.getLogger("casedesk.mail")


class Command(BaseCommand):
    help = (
        "Store one email read from stdin (for a mail server's pipe): exit 0 stored, 75 retry "
        "later, 65 refused (empty, too large); a --client-ip that is no IP address is 75 too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sender", default=None, help="The envelope sender (Postfix: ${sender})."
        )
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="An envelope recipient (Postfix: ${recipient}); repeat for several.",
        )
        parser.add_argument(
            "--client-ip",
            default=None,
            help=(
                "The IP address of the server that sent the message, for SPF "
                "(Postfix pipe: ${client_address}); empty or 'unknown' when not known."
            ),
        )
        parser.add_argument(
            "--helo",
            default="",
            help="The HELO/EHLO name that server gave, for SPF (Postfix pipe: ${client_helo}).",
        )
        parser.add_argument(
            "--process",
            action="store_true",
            help="Process the message now (not by the worker) and print what became of it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Read first: a mail server may count a pipe closed on it as a failed write.
        raw = sys.stdin.buffer.read()
        try:
            client_ip = client_address(options["client_ip"])
        except ValueError as exc:
            self.stderr.write(
                f"mailgate: --client-ip {exc} (Postfix: pass ${{client_address}}); "
                "the message was not stored: keep it queued until the pipe is fixed"
            )
            raise SystemExit(EX_TEMPFAIL) from None
        if not raw.strip():
            self.stderr.write("mailgate: the message on stdin is empty")
            raise SystemExit(EX_DATAERR)
        try:
            stored = store(
                raw,
                source=Source.PIPE,
                envelope_from=options["sender"],
                recipients=options["recipient"],
                client_ip=client_ip,
                helo=options["helo"],
            )
        except MessageTooLarge as exc:
            self.stderr.write(f"mailgate: {exc}")
            raise SystemExit(EX_DATAERR) from None
        except Exception as exc:
            # Exit 1 would make Postfix bounce the message for good; whatever went wrong
            # (the database away, an interface error, a bug), keep it queued and retry.
            logger.error("mailgate could not store a message: %s", exc)
            self.stderr.write(f"mailgate: could not store the message, try again later: {exc}")
            raise SystemExit(EX_TEMPFAIL) from None
        if options["process"]:
            from casedesk.mail.tasks import run_processing

            try:
                line = run_processing(stored.message.pk)
            except Exception as exc:  # stored: the worker will process it later
                self.stderr.write(f"mailgate: stored, processing deferred: {exc}")
                raise SystemExit(EX_OK) from None
            self.stdout.write(line)
        elif options["verbosity"] > 1:
            self.stdout.write(f"stored message {stored.message.pk}")
        raise SystemExit(EX_OK)
