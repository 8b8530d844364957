"""`casedesk oncall now|page|sms`: who is on call, open a demo page, answer as a phone."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
            now = timezone.now()
            for schedule in Schedule.objects.all():
                for row in schedules.now_and_next(schedule, now):
                    self.stdout.write(
                        f"{schedule.name} / {row.layer.name}: {_now_and_next(row, schedule.zone)}"
                    )
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


def _now_and_next(row: schedules.NowAndNext, zone: ZoneInfo) -> str:
    """ "Pat until Mon 14 Dec 09:00 CST, then Kim until ...": who now, who next and when,
    in the schedule's zone; a layer nobody relieves in the horizon says so."""

    def when(instant: datetime) -> str:
        return f"{instant.astimezone(zone):%a %d %b %H:%M %Z}"

    def who(slot: schedules.Slot) -> str:
        name = str(slot.person) if slot.person else "nobody"
        return f"{name} (fallback)" if slot.fallback else name

    current = row.now
    if current is None:
        return f"nobody, and nobody in the next {schedules.HORIZON_DAYS} days"
    if current.start > timezone.now():
        now_part = f"nobody until {when(current.start)}, then {who(current)}"
    else:
        now_part = who(current)
    if row.next is None:
        return f"{now_part}; no change in the next {schedules.HORIZON_DAYS} days"
    return f"{now_part} until {when(current.end)}; next {who(row.next)} until {when(row.next.end)}"
