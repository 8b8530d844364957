"""casedesk smtpd: the SMTP receiver on its own (``casedesk run`` also starts one)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from casedesk.mail.smtp import Receiver


class Command(BaseCommand):
    help = "Receive mail for the support addresses over SMTP and store it for processing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default=None, help=f"Address to listen on (default {settings.SMTP_HOST})."
        )
        parser.add_argument(
            "--port", type=int, default=None, help=f"Port (default {settings.SMTP_PORT})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = settings.SMTP_PORT if options["port"] is None else options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1-65535)")
        receiver = Receiver(options["host"], port)
        try:
            receiver.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {receiver.host}:{port}: {exc}") from None
        self.stdout.write(
            f"casedesk SMTP receiver on {receiver.host}:{port} for "
            f"{', '.join(settings.SUPPORT_EMAILS)} (Ctrl-C stops)"
        )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stop.wait()
        receiver.stop()
