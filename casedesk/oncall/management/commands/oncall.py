"""`casedesk oncall now|page|sms`: who is on call, open a demo page, answer as a phone."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from casedesk.oncall import schedules, services
from casedesk.oncall.demo import demo_page
from casedesk.oncall.models import Schedule


class Command(BaseCommand):
    help = "On call: who is on call now, open a demo page, or reply to a page as an SMS would."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("now", help="who is on call now and next, per schedule and layer")
        page = sub.add_parser("page", help="open a critical case for a customer and page it")
        page.add_argument("--requester", default="alice@acme.example")
        sms = sub.add_parser("sms", help="handle an SMS reply as if it came from a phone")
        sms.add_argument("from_number")
        sms.add_argument("body")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "now":
            for schedule in Schedule.objects.all():
                zone = schedule.zone
                for row in schedules.now_and_next(schedule, timezone.now()):
                    now = row.now.person if row.now else None
                    nxt = row.next
                    after = (
                        f"; next {nxt.person} from {nxt.start.astimezone(zone):%a %d %b %H:%M %Z}"
                        if nxt
                        else ""
                    )
                    who = now or "nobody"
                    self.stdout.write(f"{schedule.name} / {row.layer.name}: {who}{after}")
        elif action == "page":
            page = demo_page(options["requester"])
            if page is None:
                raise CommandError("could not page: unknown requester, no policy, or no coverage")
            self.stdout.write(
                f"page {page.code} open for {page.organization.name}; the worker sends it now"
            )
        else:
            reply = services.handle_sms_reply(options["from_number"], options["body"])
            self.stdout.write(reply or "(no answer: not a number of an active agent)")
