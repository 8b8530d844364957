"""casedesk cases: bulk operations on cases for operators and benchmarks.

casedesk cases seed N [--organizations K] [--seed S] [--days D]
    write N realistic cases (every status, SLA fields from the business clock, a
    timeline each) for the organizations that have customers, after creating K extra
    organizations with one customer each; a progress bar on stderr. For trying the
    desk at scale and for bench/desk.py: it bypasses the services (no mail, no SLA
    tasks; the periodic sweep acts on overdue cases), so never run it on a real desk.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from casedesk.cases.seeding import SeedError, SeedPlan, seed_cases


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Seed many realistic cases (benchmarks, trying the desk at scale)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        kwargs: dict[str, Any] = {
            "called_from_command_line": getattr(parser, "called_from_command_line", None)
        }
        seed = sub.add_parser("seed", help="Write N realistic cases in bulk.", **kwargs)
        seed.add_argument("count", type=_count, metavar="N", help="How many cases (100_000 ok).")
        seed.add_argument(
            "--organizations",
            type=_count,
            default=0,
            metavar="K",
            help="First create K more organizations, one customer each (default 0).",
        )
        seed.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        seed.add_argument(
            "--days", type=int, default=90, help="Cases open over the last D days (default 90)."
        )
        seed.add_argument(
            "--force",
            action="store_true",
            help="Seed even in production mode (CASEDESK_DEBUG off).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "seed":  # pragma: no cover - argparse allows only seed
            raise CommandError(f"unknown action {options['action']!r}")
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "refusing to write made-up cases in production mode (CASEDESK_DEBUG is off); "
                "pass --force if you mean it"
            )
        plan = SeedPlan(
            cases=options["count"],
            new_organizations=options["organizations"],
            seed=options["seed"],
            days=options["days"],
            progress=options["verbosity"] > 0,
        )
        started = time.monotonic()
        try:
            result = seed_cases(plan)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        took = time.monotonic() - started
        for name in result.organizations:
            self.stdout.write(f"created organization {name}")
        self.stdout.write(
            f"seeded {result.cases} cases ({result.events} events, {result.pauses} pauses) "
            f"in {took:.1f} s"
        )
