"""The monthly fee report: every fee charged in a calendar month, the credits for fees
voided in it, totals per organization, a bar chart per currency, and the CSV the billing
team imports.

A month is a calendar month in the support calendar's zone: a fee charged at 23:30 on
30 November in Chicago (05:30 UTC on 1 December) is a November fee.

A month's report says what stood at the month's end, so a month already billed never
changes afterwards:

- a fee charged and voided within the month is listed (struck out) and counted nowhere;
- a fee charged in the month and voided after it is counted in its month (noted on the
  page) and credited in the month it was voided;
- a fee voided in the month but charged before it is a **credit** line: its amount
  negative, counted in the month's totals, labelled ``credit`` in the CSV.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from casedesk.lib.months import month_span
from casedesk.lib.spreadsheet import safe_cell
from casedesk.phone.models import Fee


@dataclass(frozen=True)
class Line:
    """One line of the report: a fee charged in the month, or a credit for one voided in it."""

    fee: Fee
    credit: bool
    at: datetime  # charged (a charge) or voided (a credit)
    amount: Decimal  # negative for a credit
    counted: bool  # in the month's totals
    voided_later: bool  # a charge of this month voided after it (credited then)

    @property
    def voided_in_month(self) -> bool:
        return not self.credit and not self.counted


@dataclass(frozen=True)
class OrganizationTotal:
    name: str
    account_number: str
    currency: str
    amount: Decimal  # charges less credits
    count: int  # fees charged and standing at the month's end
    credits: int


@dataclass(frozen=True)
class Bar:
    """One organization's bar: ``percent`` of the largest in its currency (a CSS width)."""

    label: str
    value: str
    percent: float


@dataclass(frozen=True)
class Chart:
    """The bars of one currency: amounts in different currencies are never compared."""

    currency: str
    bars: list[Bar]


@dataclass(frozen=True)
class Report:
    month: date
    zone: zoneinfo.ZoneInfo
    start: datetime
    end: datetime
    lines: list[Line]
    organizations: list[OrganizationTotal]
    totals: list[tuple[str, Decimal]]  # (currency, amount) of the lines counted
    charged: int  # fees charged in the month
    voided: int  # of those, voided within the month (not counted)
    credits: int  # fees charged earlier, voided in the month


def fees_between(start: datetime, end: datetime) -> QuerySet[Fee]:
    """Fees charged in [start, end), and fees voided in it (whenever charged)."""
    return (
        Fee.objects.filter(
            Q(charged_at__gte=start, charged_at__lt=end)
            | Q(voided_at__gte=start, voided_at__lt=end)
        )
        .select_related("organization", "call", "charged_by", "voided_by")
        .order_by("charged_at", "pk")
    )


def _lines(fees: list[Fee], start: datetime, end: datetime) -> list[Line]:
    lines = []
    for fee in fees:
        voided = fee.voided_at
        if fee.charged_at >= start:  # charged this month
            voided_in_month = voided is not None and voided < end
            lines.append(
                Line(
                    fee=fee,
                    credit=False,
                    at=fee.charged_at,
                    amount=fee.amount,
                    counted=not voided_in_month,
                    voided_later=voided is not None and voided >= end,
                )
            )
        else:  # charged before, voided this month
            assert voided is not None
            lines.append(Line(fee, True, voided, -fee.amount, True, False))
    return sorted(lines, key=lambda line: (line.at, line.fee.pk))


def build(month: date, zone: zoneinfo.ZoneInfo) -> Report:
    start, end = month_span(month, zone)
    lines = _lines(list(fees_between(start, end)), start, end)
    per_org: dict[tuple[str, str, str], list[Line]] = defaultdict(list)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if not line.counted:
            continue
        org = line.fee.organization
        per_org[(org.name, org.account_number, line.fee.currency)].append(line)
        totals[line.fee.currency] += line.amount
    organizations = sorted(
        (
            OrganizationTotal(
                name,
                number,
                currency,
                sum((line.amount for line in group), Decimal()),
                sum(1 for line in group if not line.credit),
                sum(1 for line in group if line.credit),
            )
            for (name, number, currency), group in per_org.items()
        ),
        key=lambda o: (o.currency, -o.amount, o.name),
    )
    return Report(
        month=month,
        zone=zone,
        start=start,
        end=end,
        lines=lines,
        organizations=organizations,
        totals=sorted(totals.items()),
        charged=sum(1 for line in lines if not line.credit),
        voided=sum(1 for line in lines if line.voided_in_month),
        credits=sum(1 for line in lines if line.credit),
    )


# ---- The chart: per currency, one horizontal bar per organization ---------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def chart(report: Report) -> list[Chart]:
    """One chart per currency, bars longest first; the largest total of the currency fills
    the track. A tiny fee still shows (1%); a total that credits brought to zero or below
    shows no bar."""
    charts = []
    for currency in sorted({o.currency for o in report.organizations}):
        rows = [o for o in report.organizations if o.currency == currency]
        top = max((o.amount for o in rows), default=Decimal(0))
        bars = []
        for o in sorted(rows, key=lambda o: (-o.amount, o.name)):
            what = [_plural(o.count, "call")]
            if o.credits:
                what.append(_plural(o.credits, "credit"))
            percent = max(1.0, round(float(100 * o.amount / top), 1)) if o.amount > 0 else 0.0
            bars.append(Bar(o.name, f"{o.amount} {o.currency} ({', '.join(what)})", percent))
        charts.append(Chart(currency, bars))
    return charts


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
    "entry",
    "charged_at",
]


def csv_rows(report: Report) -> list[list[str]]:
    """The header and one row per line; times in the calendar's zone.

    ``entry`` is ``charge`` (``date`` = charged) or ``credit`` (``date`` = voided, the
    amount negative, ``charged_at`` = when the credited fee was charged). A charge voided
    after the month shows no void here: the month's report is what stood at its end.
    """
    rows = [CSV_HEADER]
    for line in report.lines:
        fee, by = line.fee, line.fee.charged_by
        shows_void = fee.voided_at is not None and not line.voided_later
        rows.append(
            [
                line.at.astimezone(report.zone).isoformat(),
                fee.organization.name,
                fee.organization.account_number,
                fee.call.sid,
                fee.call.from_number,
                f"{line.amount}",
                fee.currency,
                fee.reason,
                (by.full_name or by.email) if by else "",
                fee.voided_at.astimezone(report.zone).isoformat()
                if shows_void and fee.voided_at
                else "",
                fee.void_reason if shows_void else "",
                "credit" if line.credit else "charge",
                fee.charged_at.astimezone(report.zone).isoformat(),
            ]
        )
    return rows


AMOUNT = CSV_HEADER.index("amount")


def to_csv(report: Report) -> str:
    """The report as CSV text; no cell can start a formula. The amount is ours (a decimal,
    never typed by anyone), so a credit's ``-150.00`` stays a number a spreadsheet sums."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(report):
        writer.writerow([text if i == AMOUNT else safe_cell(text) for i, text in enumerate(row)])
    return out.getvalue()
