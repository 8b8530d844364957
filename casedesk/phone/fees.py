"""Triage of emergency calls: an agent marks a call non-emergency; a fee may follow.

Decisions (docs/architecture.md, "Emergency line: triage and fees"):

- **Once per call.** Marking is a conditional UPDATE of the call (``non_emergency_at IS
  NULL``): of two agents clicking at once, one marks it; the other is told who did.
- **The fee** (``settings.PHONE_FEE``, 0 = off) is recorded in the same transaction as the
  mark, against the call's organization, at the amount and currency configured *then*. A
  call without an organization cannot be charged while fees are on: nothing changes and
  the agent is told why. With fees off the mark is recorded and no fee is.
- **Undo = void.** Voiding takes a reason; it keeps the fee row (voided, out of every
  total, still in the report) and clears the call's mark, so the call log no longer
  counts it as non-emergency. A call is charged at most once: once it has a fee, even a
  voided one, it cannot be marked again.
- **The customer is told by email**: the identified caller, else the organization's
  active customers, one message each, never anyone of another organization. The mail
  carries the agent's reason (the form says so). Voiding a fee tells them too.
- **The case timeline** gets an internal note (who, why, the fee); customers see the
  email, not a timeline entry (the cases app has no public event kind for this, and a
  public reply would stop the first-response clock).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import dateformat, timezone
from django_tasks import task

from casedesk.accounts.models import Organization, Role, User
from casedesk.accounts.services import zone_of
from casedesk.cases import services as case_services
from casedesk.cases.models import EventKind
from casedesk.core.retry import RetryPolicy, retrying
from casedesk.phone.models import Call, Fee

REASON_MAX = 2000
_MAIL_RETRY = RetryPolicy(max_attempts=5)


class TriageError(Exception):
    """Something the agent can fix or should know; nothing was changed."""

    def __init__(self, message: str, field: str = "reason") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Marked:
    call: Call
    fee: Fee | None


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise TriageError("Say why: the customer reads this reason.")
    if len(text) > REASON_MAX:
        raise TriageError(f"Keep the reason under {REASON_MAX} characters.")
    if "\x00" in text:
        raise TriageError("The reason contains a NUL character; type it again.")
    return text


def _name(person: User | None) -> str:
    if person is None:
        return "someone"
    return person.full_name or person.email


def _number(call: Call) -> str:
    return call.from_number or "from an unknown number"


def _note(call: Call, by: User, at: datetime, body: str) -> None:
    """An internal note on the call's case (if it has one): agents see it, customers do not."""
    if call.case is not None:
        case_services.record_event(call.case, EventKind.NOTE, body, by=by, at=at)


def _require_staff(by: User) -> None:
    if not (by.is_active and by.is_vendor_staff):
        raise TriageError("Only support staff triage calls.", field="")


def mark_non_emergency(call: Call, by: User, reason: str) -> Marked:
    """Mark ``call`` non-emergency (once) and charge the fee, if fees are on."""
    _require_staff(by)
    text = _clean_reason(reason)
    amount: Decimal = settings.PHONE_FEE
    with transaction.atomic():
        current = Call.objects.select_related("organization").get(pk=call.pk)
        if current.non_emergency_at is not None:
            when = dateformat.format(timezone.localtime(current.non_emergency_at), "M j, H:i T")
            raise TriageError(
                f"{_name(current.non_emergency_by)} already marked this call non-emergency "
                f"on {when}.",
                field="",
            )
        old_fee = Fee.objects.filter(call=current).first()
        if old_fee is not None:
            raise TriageError(
                "This call's fee was voided; a call is charged at most once, so it cannot "
                "be marked again.",
                field="",
            )
        if amount > 0 and current.organization is None:
            raise TriageError(
                "This call has no organization (the caller was not identified), so there "
                "is nobody to charge. Nothing was changed.",
                field="",
            )
        now = timezone.now()
        claimed = Call.objects.filter(pk=current.pk, non_emergency_at__isnull=True).update(
            non_emergency_at=now, non_emergency_by=by, non_emergency_reason=text
        )
        if claimed != 1:
            raise TriageError("Someone marked this call a moment ago; reload the page.", field="")
        fee = None
        if amount > 0 and current.organization is not None:
            try:
                with transaction.atomic():
                    fee = Fee.objects.create(
                        organization=current.organization,
                        call=current,
                        amount=amount,
                        currency=settings.PHONE_FEE_CURRENCY,
                        reason=text,
                        charged_at=now,
                        charged_by=by,
                    )
            except IntegrityError:
                raise TriageError(
                    "This call already has a fee; it cannot be charged twice.", field=""
                ) from None
        current.refresh_from_db()
        charged = f"Fee: {fee.amount} {fee.currency}." if fee else "No fee (fees are off)."
        _note(
            current,
            by,
            now,
            f"Emergency call {_number(current)} marked non-emergency by {_name(by)}.\n"
            f"Reason: {text}\n{charged}",
        )
        if recipients(current):
            tell_customer.enqueue(current.pk, "marked")
    return Marked(current, fee)


def void_fee(call: Call, by: User, reason: str) -> Call:
    """Undo a mark: void its fee (if one was charged) and clear the call's mark."""
    _require_staff(by)
    text = _clean_reason(reason)
    with transaction.atomic():
        current = Call.objects.select_for_update().get(pk=call.pk)
        if current.non_emergency_at is None:
            raise TriageError("This call is not marked non-emergency; nothing to undo.", field="")
        now = timezone.now()
        fee = Fee.objects.filter(call=current, voided_at__isnull=True).first()
        if fee is not None:
            voided = Fee.objects.filter(pk=fee.pk, voided_at__isnull=True).update(
                voided_at=now, voided_by=by, void_reason=text
            )
            if voided != 1:
                raise TriageError("Someone voided this fee a moment ago.", field="")
        Call.objects.filter(pk=current.pk).update(
            non_emergency_at=None, non_emergency_by=None, non_emergency_reason=""
        )
        current.refresh_from_db()
        what = f"Fee of {fee.amount} {fee.currency} voided" if fee else "Mark withdrawn"
        _note(
            current,
            by,
            now,
            f"{what} by {_name(by)}: the emergency call {_number(current)} is no longer "
            f"marked non-emergency.\nReason: {text}",
        )
        if fee is not None and recipients(current):
            tell_customer.enqueue(current.pk, "voided")
    return current


# ---- Who hears about it ----------------------------------------------------------------


def recipients(call: Call) -> list[User]:
    """The identified caller, else the organization's active customers; never anyone else."""
    if call.organization_id is None:
        return []
    caller = call.caller
    if (
        caller is not None
        and caller.is_active
        and caller.role == Role.CUSTOMER
        and caller.organization_id == call.organization_id
    ):
        return [caller]
    return list(
        User.objects.filter(
            organization=call.organization_id, role=Role.CUSTOMER, is_active=True
        ).order_by("email")
    )


@task()
@retrying(_MAIL_RETRY)
def tell_customer(call_id: int, what: str) -> None:
    """One mail per recipient about their own call: ``marked`` or ``voided``."""
    from casedesk.cases.tasks import _send

    call = Call.objects.select_related("organization", "case", "caller").filter(pk=call_id).first()
    if call is None:
        return
    fee = Fee.objects.filter(call=call).first()
    if what == "marked":
        if call.non_emergency_at is None:
            return  # voided before the mail went: say nothing
        template = "phone/email/non_emergency"
    elif what == "voided":
        if fee is None or fee.voided_at is None:
            return
        template = "phone/email/fee_voided"
    else:
        raise ValueError(f"unknown message {what!r}")
    for person in recipients(call):
        _send(
            template,
            {"call": call, "fee": fee, "recipient": person},
            [person.email],
            zone_of(person),
            case=call.case,
        )


# ---- What pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class Total:
    currency: str
    amount: Decimal


def live_fees() -> QuerySet[Fee]:
    return Fee.objects.filter(voided_at__isnull=True)


def totals(fees: QuerySet[Fee]) -> list[Total]:
    """Sum of the fees that stand, per currency (the setting can change in a month)."""
    rows = (
        fees.filter(voided_at__isnull=True)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return [Total(row["currency"], cents(row["total"])) for row in rows]


def cents(amount: Decimal) -> Decimal:
    """Two decimal places: SQLite's SUM of a decimal column comes back as ``150``."""
    return Decimal(amount).quantize(Decimal("0.01"))


def month_bounds(first: datetime, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a calendar month starts and ends at in ``zone`` (``first``: any day in it)."""
    local = first.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return start, datetime(year, month, 1, tzinfo=zone)


def fees_of_month(
    organization: Organization, now: datetime, zone: zoneinfo.ZoneInfo
) -> QuerySet[Fee]:
    start, end = month_bounds(now, zone)
    return Fee.objects.filter(organization=organization, charged_at__gte=start, charged_at__lt=end)
