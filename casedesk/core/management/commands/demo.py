from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from casedesk.core.demo import existing_demo_logins, load_demo


class Command(BaseCommand):
    help = "Load the demo data (idempotent): demo logins and, on an empty desk, 300 cases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even in production mode (CASEDESK_DEBUG off).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "refusing to create demo logins with known passwords in production mode "
                "(CASEDESK_DEBUG is off); pass --force if you mean it"
            )
        created = load_demo()
        # One on-call page (a new critical case) for the worker to print on the console.
        from casedesk.oncall.demo import ensure_demo_page

        created += ensure_demo_page()
        for line in created:
            self.stdout.write(f"created {line}")
        if not created:
            self.stdout.write("demo data already loaded")
        for login in existing_demo_logins():
            self.stdout.write(f"demo login ({login.role}): {login.email} / {login.password}")
