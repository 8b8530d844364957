"""casedesk hours: ask the business clock, and import holidays.

casedesk hours due --start 2026-12-24T18:00:00-06:00 --duration 2h [--calendar NAME]
casedesk hours status [--calendar NAME]
casedesk hours import-ics FILE --calendar NAME
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from casedesk.hours.clock import CalendarNeverOpens, parse_duration
from casedesk.hours.ics import IcsError, parse_holidays
from casedesk.hours.models import Calendar, Holiday
from casedesk.hours.services import (
    LoadedCalendar,
    UnknownCalendar,
    calendar_or_default,
    status,
)


def _aware(text: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--start {text!r} is not an ISO 8601 date and time, e.g. 2026-12-24T18:00:00-06:00"
        ) from None
    if value.tzinfo is None:
        raise CommandError(f"--start {text!r} has no UTC offset; add one, e.g. -06:00 or Z")
    return value


class Command(BaseCommand):
    help = "Ask the business clock (due times, open now?) and import holidays from .ics files."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        kwargs: dict[str, Any] = {
            "called_from_command_line": getattr(parser, "called_from_command_line", None)
        }

        due = sub.add_parser("due", help="Print when a duration of open time ends.", **kwargs)
        due.add_argument("--start", required=True, help="ISO 8601 instant with offset.")
        due.add_argument("--duration", required=True, help="Open time: 90m, 4h, 36h, 2h30m.")
        due.add_argument("--calendar", default="", help="Calendar name (default: the default).")

        stat = sub.add_parser(
            "status", help="Print whether support is open now, as JSON.", **kwargs
        )
        stat.add_argument("--calendar", default="")

        imp = sub.add_parser(
            "import-ics", help="Add the all-day events of an .ics file as holidays.", **kwargs
        )
        imp.add_argument("file", type=Path)
        imp.add_argument("--calendar", required=True)

    def _calendar(self, name: str) -> LoadedCalendar:
        try:
            return calendar_or_default(name)
        except UnknownCalendar as exc:
            raise CommandError(str(exc)) from None

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "due":
            self.due(options)
        elif action == "status":
            state = status(self._calendar(options["calendar"]))
            self.stdout.write(json.dumps(state.as_json()))
        else:
            self.import_ics(options["file"], options["calendar"])

    def due(self, options: dict[str, Any]) -> None:
        start = _aware(options["start"])
        try:
            duration = parse_duration(options["duration"])
        except ValueError as exc:
            raise CommandError(f"--duration: {exc}") from None
        calendar = self._calendar(options["calendar"])
        try:
            due = calendar.clock.add(start, duration)
        except CalendarNeverOpens as exc:
            raise CommandError(f"calendar {calendar.name!r}: {exc}") from None
        except (ValueError, OverflowError) as exc:
            raise CommandError(f"no due time within the calendar's range: {exc}") from None
        # In the calendar's zone, so the wall-clock reading is right after a
        # daylight-saving change (the start's fixed offset would not be).
        self.stdout.write(due.astimezone(calendar.zone).isoformat())

    def import_ics(self, path: Path, name: str) -> None:
        try:
            calendar = Calendar.objects.get(name=name)
        except Calendar.DoesNotExist:
            raise CommandError(f"no calendar named {name!r}") from None
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            parsed = parse_holidays(data)
        except IcsError as exc:
            raise CommandError(f"{path}: {exc}") from None
        created = updated = 0
        with transaction.atomic():
            for day, holiday_name in parsed.holidays:
                _, was_created = Holiday.objects.update_or_create(
                    calendar=calendar, date=day, defaults={"name": holiday_name}
                )
                created += was_created
                updated += not was_created
        for reason in parsed.skipped:
            self.stderr.write(f"skipped {reason}")
        self.stdout.write(
            f"{calendar.name}: {created} holiday(s) added, {updated} updated, "
            f"{len(parsed.skipped)} event(s) skipped"
        )
