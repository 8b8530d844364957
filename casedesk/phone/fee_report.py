"""The monthly fee report: every fee charged in a calendar month, totals per organization,
a bar chart, and the CSV the billing team imports.

A month is a calendar month in the support calendar's zone: a fee charged at 23:30 on
30 November in Chicago (05:30 UTC on 1 December) is a November fee. Voided fees are
listed (marked voided) and left out of every total and bar.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet

from casedesk.lib.spreadsheet import safe_cell
from casedesk.phone.fees import month_bounds
from casedesk.phone.models import Fee

MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only: \d matches any script's
FIRST_YEAR, LAST_YEAR = 2000, 2100


class MonthError(ValueError):
    """A ``month`` parameter that is not a month we can report on; the message says why."""


def parse_month(text: str) -> date:
    """``2026-11`` -> 1 November 2026. Anything else raises :class:`MonthError`."""
    match = MONTH_RE.fullmatch(text.strip())
    if match is None:
        raise MonthError("Write the month as YYYY-MM, for example 2026-11.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise MonthError(f"There is no month {month:02d}; use 01 to 12.")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise MonthError(f"Choose a year from {FIRST_YEAR} to {LAST_YEAR}.")
    return date(year, month, 1)


@dataclass(frozen=True)
class OrganizationTotal:
    name: str
    account_number: str
    currency: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class Bar:
    """One organization's bar: ``percent`` of the longest (a CSS width, so it reflows)."""

    label: str
    value: str
    percent: float


@dataclass(frozen=True)
class Report:
    month: date
    zone: zoneinfo.ZoneInfo
    start: datetime
    end: datetime
    fees: list[Fee]
    organizations: list[OrganizationTotal]
    totals: list[tuple[str, Decimal]]  # (currency, amount) of the fees that stand
    voided: int


def fees_between(start: datetime, end: datetime) -> QuerySet[Fee]:
    return (
        Fee.objects.filter(charged_at__gte=start, charged_at__lt=end)
        .select_related("organization", "call", "charged_by", "voided_by")
        .order_by("charged_at", "pk")
    )


def build(month: date, zone: zoneinfo.ZoneInfo) -> Report:
    start, end = month_bounds(datetime(month.year, month.month, 15, tzinfo=zone), zone)
    fees = list(fees_between(start, end))
    per_org: dict[tuple[str, str, str], list[Fee]] = defaultdict(list)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for fee in fees:
        if fee.voided_at is not None:
            continue
        org = fee.organization
        per_org[(org.name, org.account_number, fee.currency)].append(fee)
        totals[fee.currency] += fee.amount
    organizations = sorted(
        (
            OrganizationTotal(
                name, number, currency, sum((f.amount for f in group), Decimal()), len(group)
            )
            for (name, number, currency), group in per_org.items()
        ),
        key=lambda o: (-o.amount, o.name),
    )
    return Report(
        month=month,
        zone=zone,
        start=start,
        end=end,
        fees=fees,
        organizations=organizations,
        totals=sorted(totals.items()),
        voided=sum(1 for f in fees if f.voided_at is not None),
    )


# ---- The chart: fees per organization, one horizontal bar each ------------------------


def chart(report: Report) -> list[Bar]:
    """Bars longest first; the largest total fills the track. A tiny fee still shows (1%)."""
    top = max((o.amount for o in report.organizations), default=Decimal(0)) or Decimal(1)
    several_currencies = len({o.currency for o in report.organizations}) > 1
    return [
        Bar(
            label=f"{o.name} ({o.currency})" if several_currencies else o.name,
            value=f"{o.amount} {o.currency} ({o.count} call{'s' if o.count != 1 else ''})",
            percent=max(1.0, round(float(100 * o.amount / top), 1)),
        )
        for o in report.organizations
    ]


# ---- CSV --------------------------------------------------------------------------------

CSV_HEADER = [
    "date",
    "organization",
    "account_number",
    "call",
    "caller_number",
    "amount",
    "currency",
    "reason",
    "charged_by",
    "voided",
    "void_reason",
]


def to_csv(report: Report) -> str:
    """One row per fee; times in the calendar's zone; no cell can start a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for fee in report.fees:
        by = fee.charged_by
        voided = fee.voided_at.astimezone(report.zone).isoformat() if fee.voided_at else ""
        writer.writerow(
            [
                safe_cell(text)
                for text in (
                    fee.charged_at.astimezone(report.zone).isoformat(),
                    fee.organization.name,
                    fee.organization.account_number,
                    fee.call.sid,
                    fee.call.from_number,
                    f"{fee.amount}",
                    fee.currency,
                    fee.reason,
                    (by.full_name or by.email) if by else "",
                    voided,
                    fee.void_reason,
                )
            ]
        )
    return out.getvalue()
