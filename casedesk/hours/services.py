"""The business clock as the rest of casedesk sees it.

``current_calendar()`` is the calendar that decides "is support open?"
everywhere (settings.CASEDESK_DEFAULT_CALENDAR); ``calendar_named()`` any
other, e.g. the 24x7 clock of critical cases. Both return a
:class:`LoadedCalendar` whose ``clock`` is cached per process until the
calendar's version changes. Each call asks the database for that version (one
small query), except within :func:`versions_held`, where a batch of work (the
mail worker's) asks once per calendar.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import zoneinfo
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from casedesk.hours.clock import BusinessClock, CalendarNeverCloses, CalendarNeverOpens
from casedesk.hours.models import Calendar
from casedesk.lib.names import is_calendar_name

# Holidays are expanded for this many years around today when a clock is built;
# rules keep working for any year, this only bounds the precomputation.
YEARS_BEFORE = 10
YEARS_AFTER = 15


class UnknownCalendar(LookupError):
    pass


@dataclass(frozen=True)
class LoadedCalendar:
    name: str
    title: str
    zone: zoneinfo.ZoneInfo
    clock: BusinessClock
    version: int
    pk: int
    weekly: dict[int, list[tuple[str, str]]]
    holidays: dict[datetime.date, str]  # for the years around today (see YEARS_*)

    def local(self, instant: datetime.datetime) -> datetime.datetime:
        return instant.astimezone(self.zone)


@dataclass(frozen=True)
class HoursStatus:
    """Whether support is open at ``now``, and when that next changes."""

    calendar: LoadedCalendar
    now: datetime.datetime
    open: bool
    next_open: datetime.datetime | None  # None: the calendar never opens
    next_close: datetime.datetime | None  # None: the calendar never closes

    def as_json(self) -> dict[str, object]:
        def iso(value: datetime.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "open": self.open,
            "now": iso(self.now),
            "next_open": iso(self.next_open),
            "next_close": iso(self.next_close),
            "timezone": self.calendar.zone.key,
            "calendar": self.calendar.name,
        }


_cache: dict[str, LoadedCalendar] = {}
_lock = threading.Lock()
# Within versions_held(): the calendars whose version this block has checked.
_held: ContextVar[dict[str, LoadedCalendar] | None] = ContextVar(
    "casedesk_calendars_held", default=None
)


@contextlib.contextmanager
def versions_held() -> Iterator[None]:
    """Within this block each calendar's version is checked once, at its first use.

    For a batch of work that asks the clock many times in under a second (a mail
    batch: "is support open?" and the due times of every case it opens): an admin's
    change to the hours applies from the next batch, as it would had it been saved a
    moment later.
    """
    token = _held.set({})
    try:
        yield
    finally:
        _held.reset(token)


def calendar_named(name: str) -> LoadedCalendar:
    """The calendar called ``name`` with its clock; one small query when cached (none
    when this :func:`versions_held` block has checked it already)."""
    # Names are slugs; anything else (a NUL byte from a URL, say) is not one,
    # and must not reach the database driver.
    if not is_calendar_name(name):
        raise UnknownCalendar(f"no calendar named {name[:60]!r}")
    held = _held.get()
    if held is None:
        return _checked(name)
    if name not in held:
        held[name] = _checked(name)
    return held[name]


def _checked(name: str) -> LoadedCalendar:
    """The calendar called ``name``, its cached clock when its version has not changed."""
    try:
        row = Calendar.objects.only("pk", "version").get(name=name)
    except Calendar.DoesNotExist:
        raise UnknownCalendar(f"no calendar named {name!r}") from None
    cached = _cache.get(name)
    if cached is not None and cached.version == row.version and cached.pk == row.pk:
        return cached
    loaded = _load(name)
    with _lock:
        _cache[name] = loaded
    return loaded


def calendar_or_default(name: str) -> LoadedCalendar:
    """The calendar called ``name``, or the default one when no name is given."""
    return calendar_named(name) if name else current_calendar()


def clear_cache() -> None:
    """Forget every cached clock (tests; a process never needs it)."""
    with _lock:
        _cache.clear()


def current_calendar() -> LoadedCalendar:
    return calendar_named(settings.CASEDESK_DEFAULT_CALENDAR)


def _load(name: str) -> LoadedCalendar:
    calendar = Calendar.objects.prefetch_related("intervals", "rules", "holidays").get(name=name)
    this_year = timezone.now().year
    holidays = calendar.holidays_between(this_year - YEARS_BEFORE, this_year + YEARS_AFTER)
    clock = BusinessClock(tz=calendar.zone, weekly=calendar.weekly(), holidays=holidays.keys())
    return LoadedCalendar(
        name=calendar.name,
        title=calendar.title,
        zone=calendar.zone,
        clock=clock,
        version=calendar.version,
        pk=calendar.pk,
        weekly=calendar.weekly(),
        holidays=holidays,
    )


def holidays_in_year(calendar: LoadedCalendar, year: int) -> list[tuple[datetime.date, str]]:
    """The calendar's holidays in one year, in date order."""
    this_year = timezone.now().year
    if this_year - YEARS_BEFORE <= year <= this_year + YEARS_AFTER:
        return [(day, name) for day, name in calendar.holidays.items() if day.year == year]
    model = Calendar.objects.prefetch_related("rules", "holidays").get(pk=calendar.pk)
    return list(model.holidays_between(year, year).items())


def status(calendar: LoadedCalendar, now: datetime.datetime | None = None) -> HoursStatus:
    now = now or timezone.now()
    clock = calendar.clock
    try:
        next_open: datetime.datetime | None = clock.next_open(now)
    except CalendarNeverOpens:
        next_open = None
    try:
        next_close: datetime.datetime | None = clock.next_close(now)
    except (CalendarNeverCloses, CalendarNeverOpens):
        next_close = None
    return HoursStatus(
        calendar=calendar,
        now=now.astimezone(datetime.UTC),
        open=clock.is_open(now),
        next_open=next_open,
        next_close=next_close,
    )
