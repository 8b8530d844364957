"""`casedesk phone simulate`: play a call to the emergency line against a running casedesk."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from casedesk.phone.simulator import ENGINEER_CHOICES, Player, SimulationError


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")] if value else []


class Command(BaseCommand):
    help = "The emergency line: play a call against a running casedesk, signed as Twilio signs."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        play = sub.add_parser(
            "simulate",
            help="call the line: prints what the caller hears, asks for keys (or takes --digits)",
        )
        play.add_argument(
            "--url",
            default=settings.BASE_URL,
            help=f"where casedesk listens (default CASEDESK_BASE_URL, {settings.BASE_URL})",
        )
        play.add_argument(
            "--public-url",
            default="",
            help="the URL Twilio would be given, which signatures cover (default: --url)",
        )
        play.add_argument(
            "--from",
            dest="from_number",
            default="+15555550101",
            help="the calling number (default +15555550101, the demo's Acme NOC)",
        )
        play.add_argument("--to", default=settings.EMERGENCY_PHONE, help="the line's number")
        play.add_argument(
            "--digits",
            default=None,
            help="keys for each menu in turn, comma-separated (e.g. 1 or 1,10042001#); "
            "without it, a terminal is asked and anything else presses nothing",
        )
        play.add_argument(
            "--engineer",
            default=None,
            help="what each engineer dialled does, in turn, comma-separated: "
            f"{', '.join(ENGINEER_CHOICES)} (without it: asked on a terminal, else accept)",
        )
        play.add_argument(
            "--message-seconds",
            type=int,
            default=20,
            help="length of the voicemail left when nobody accepts (0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TWILIO_AUTH_TOKEN:
            raise CommandError(
                "TWILIO_AUTH_TOKEN is not set: give this command the token the server uses"
            )
        engineers = _list(options["engineer"] or "")
        unknown = [e for e in engineers if e not in ENGINEER_CHOICES]
        if unknown:
            raise CommandError(
                f"--engineer {', '.join(unknown)}: choose from {', '.join(ENGINEER_CHOICES)}"
            )
        scripted = options["digits"] is not None
        interactive = sys.stdin.isatty() and not scripted
        url = options["url"].rstrip("/")
        player = Player(
            url=url,
            public_url=(options["public_url"] or url).rstrip("/"),
            token=settings.TWILIO_AUTH_TOKEN,
            from_number=options["from_number"],
            to_number=options["to"],
            say=self.stdout.write,
            digits=_list(options["digits"] or ""),
            engineers=engineers,
            ask=input if interactive else None,
            message_seconds=max(0, options["message_seconds"]),
        )
        try:
            player.play()
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
