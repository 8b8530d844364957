"""The after-hours report: can we prove every critical case got a human within 2 hours?

Per month: critical cases and the after-hours share. Time to acknowledge (page
acknowledged minus case opened) and time to first response (first public staff
reply minus case opened; a case still unanswered counts as at least its wait so far,
and a figure it bounds is shown as "at least"): median, 90th percentile (nearest rank) and the share
within the 2-hour promise, overall, per organization and per responder. A case
still unanswered past 2 hours counts as a miss; one younger than that is not yet
counted either way.
"""

from __future__ import annotations

import csv
import io
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from casedesk.cases.models import Case, Event, EventKind
from casedesk.lib.months import next_month
from casedesk.lib.spreadsheet import safe_cell as _safe

PROMISE = timedelta(hours=2)


@dataclass(frozen=True)
class Row:
    """One critical case, as the report and its CSV see it."""

    case: Case
    month: str  # "2026-11" in the calendar's zone
    after_hours: bool
    page_code: str
    acknowledged_by: str
    time_to_ack: timedelta | None
    responder: str
    time_to_response: timedelta | None
    missed: bool  # no response and already past the promise
    # No response yet: how long it has waited so far (a lower bound of its time to respond).
    waiting: timedelta | None = None


def percentile(values: list[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile: the smallest value with at least ``share`` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def censored_percentile(
    values: list[timedelta], lower_bounds: list[timedelta], share: float
) -> tuple[timedelta | None, bool]:
    """The nearest-rank percentile of known values and of values known only to be at least
    ``lower_bounds`` (cases still waiting). Returns it and whether it is only a lower bound
    (some still-waiting case ranks at or below it: the true figure may be higher)."""
    picked = percentile(values + lower_bounds, share)
    if picked is None:
        return None, False
    return picked, any(b <= picked for b in lower_bounds)


@dataclass
class Stats:
    label: str
    cases: int = 0
    after_hours: int = 0
    acks: list[timedelta] = field(default_factory=list)
    responses: list[timedelta] = field(default_factory=list)
    waiting: list[timedelta] = field(default_factory=list)
    missed: int = 0

    def add(self, row: Row) -> None:
        self.cases += 1
        self.after_hours += row.after_hours
        if row.time_to_ack is not None:
            self.acks.append(row.time_to_ack)
        if row.time_to_response is not None:
            self.responses.append(row.time_to_response)
        elif row.waiting is not None:
            self.waiting.append(row.waiting)
        self.missed += row.missed

    @property
    def ack_median(self) -> timedelta | None:
        return percentile(self.acks, 0.5)

    @property
    def ack_p90(self) -> timedelta | None:
        return percentile(self.acks, 0.9)

    # Unanswered cases count too, as at least their wait so far: leaving them out would
    # make the slowest months look fastest.
    @property
    def response_median(self) -> timedelta | None:
        return censored_percentile(self.responses, self.waiting, 0.5)[0]

    @property
    def response_median_at_least(self) -> bool:
        return censored_percentile(self.responses, self.waiting, 0.5)[1]

    @property
    def response_p90(self) -> timedelta | None:
        return censored_percentile(self.responses, self.waiting, 0.9)[0]

    @property
    def response_p90_at_least(self) -> bool:
        return censored_percentile(self.responses, self.waiting, 0.9)[1]

    @property
    def within_promise(self) -> float | None:
        """Share of decided cases (answered, or unanswered past 2 h) answered within 2 h."""
        decided = len(self.responses) + self.missed
        if not decided:
            return None
        return sum(1 for r in self.responses if r <= PROMISE) / decided

    @property
    def after_hours_share(self) -> float | None:
        return self.after_hours / self.cases if self.cases else None


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    overall: Stats
    months: list[Stats]
    organizations: list[Stats]
    responders: list[Stats]


def rows(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> list[Row]:
    cases = list(
        Case.objects.filter(priority__is_critical=True, opened_at__gte=start, opened_at__lt=end)
        .select_related("organization", "page_link__page__acknowledged_by")
        .order_by("opened_at", "pk")
    )
    first_replies: dict[int, str] = {}
    for event in (
        Event.objects.filter(
            case__in=[c.pk for c in cases],
            kind=EventKind.REPLY,
            public=True,
            author__role__in=["agent", "admin"],
        )
        .select_related("author")
        .order_by("at", "pk")
    ):
        if event.case_id not in first_replies and event.author is not None:
            first_replies[event.case_id] = event.author.full_name or event.author.email
    now = timezone.now()
    out = []
    for case in cases:
        link = getattr(case, "page_link", None)
        page = link.page if link is not None else None
        ack = None
        acked_by = ""
        # A case that joined after the page was acknowledged was never acknowledged itself
        # (its acknowledger was told about it): no time to acknowledge, rather than 0.
        if (
            page is not None
            and page.acknowledged_at is not None
            and link is not None
            and link.joined_at <= page.acknowledged_at
        ):
            ack = max(page.acknowledged_at - case.opened_at, timedelta(0))
            who = page.acknowledged_by
            acked_by = (who.full_name or who.email) if who else ""
        response = case.first_responded_at - case.opened_at if case.first_responded_at else None
        out.append(
            Row(
                case=case,
                month=case.opened_at.astimezone(zone).strftime("%Y-%m"),
                after_hours=case.opened_after_hours,
                page_code=page.code if page else "",
                acknowledged_by=acked_by,
                time_to_ack=ack,
                responder=first_replies.get(case.pk, ""),
                time_to_response=response,
                missed=response is None and now - case.opened_at > PROMISE,
                waiting=max(now - case.opened_at, timedelta(0)) if response is None else None,
            )
        )
    return out


def _group(items: Iterable[tuple[str, Row]]) -> list[Stats]:
    groups: dict[str, Stats] = defaultdict(lambda: Stats(""))
    for key, row in items:
        stats = groups[key]
        stats.label = key
        stats.add(row)
    return [groups[k] for k in sorted(groups)]


def build(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> Report:
    found = rows(start, end, zone)
    overall = Stats("All critical cases")
    for row in found:
        overall.add(row)
    by_responder: list[tuple[str, Row]] = []
    for row in found:
        # A responder is credited with the acknowledgements and first replies they gave.
        if row.acknowledged_by:
            by_responder.append((row.acknowledged_by, _only_ack(row)))
        if row.responder:
            by_responder.append((row.responder, _only_response(row)))
    responders = _group(by_responder)
    months = {m.label: m for m in _group((r.month, r) for r in found)}
    return Report(
        rows=found,
        overall=overall,
        months=[months.get(label, Stats(label)) for label in month_labels(start, end, zone)],
        organizations=_group((r.case.organization.name, r) for r in found),
        responders=responders,
    )


def month_labels(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> list[str]:
    """Every month from ``start`` up to (not including) ``end``, empty ones too: "2026-11"."""
    first = start.astimezone(zone)
    last = (end - timedelta(microseconds=1)).astimezone(zone)
    month, labels = date(first.year, first.month, 1), []
    while (month.year, month.month) <= (last.year, last.month):
        labels.append(f"{month.year:04d}-{month.month:02d}")
        month = next_month(month)
    return labels


def _only_ack(row: Row) -> Row:
    return Row(
        row.case,
        row.month,
        row.after_hours,
        row.page_code,
        row.acknowledged_by,
        row.time_to_ack,
        "",
        None,
        False,
    )


def _only_response(row: Row) -> Row:
    return Row(
        row.case,
        row.month,
        False,
        row.page_code,
        "",
        None,
        row.responder,
        row.time_to_response,
        row.missed,
        row.waiting,
    )


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"


def to_csv(report: Report, zone: zoneinfo.ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "case",
            "organization",
            "opened",
            "after_hours",
            "page",
            "acknowledged_by",
            "minutes_to_ack",
            "first_responder",
            "minutes_to_first_response",
            "within_2h",
        ]
    )
    for row in report.rows:
        within = (
            ""
            if row.time_to_response is None and not row.missed
            else "yes"
            if row.time_to_response is not None and row.time_to_response <= PROMISE
            else "no"
        )
        writer.writerow(
            [
                row.case.reference,
                _safe(row.case.organization.name),
                row.case.opened_at.astimezone(zone).isoformat(),
                "yes" if row.after_hours else "no",
                row.page_code,
                _safe(row.acknowledged_by),
                _minutes(row.time_to_ack),
                _safe(row.responder),
                _minutes(row.time_to_response),
                within,
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    total_y: float
    total_height: float
    after_y: float
    after_height: float
    total: int
    after_hours: int


CHART_HEIGHT = 160.0
CHART_BAR = 28.0
CHART_GAP = 12.0


def chart(months: list[Stats]) -> list[Bar]:
    """Bars for an inline SVG: critical cases per month, the after-hours part darker."""
    top = max((m.cases for m in months), default=0) or 1
    bars = []
    for i, m in enumerate(months):
        h = CHART_HEIGHT * m.cases / top
        ah = CHART_HEIGHT * m.after_hours / top
        bars.append(
            Bar(
                m.label,
                40 + i * (CHART_BAR + CHART_GAP),
                CHART_BAR,
                10 + CHART_HEIGHT - h,
                h,
                10 + CHART_HEIGHT - ah,
                ah,
                m.cases,
                m.after_hours,
            )
        )
    return bars
