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
- **The customer is told by email**: the identified caller (a customer of the call's
  organization), else, when nobody was identified, the organization's active customers
  ("a call from your organization"), never anyone of another organization. An identified
  caller who has since been deactivated means nobody is mailed: their colleagues did not
  make the call. One task per recipient, so a retried mail goes only to the one it failed
  for. The mail carries the agent's reason (the form says so).
- **Withdrawing a mark tells whoever was told of it**, fee or no fee, and only them: a
  fee's ``told_at`` records that its mail went out (the mail task holds the call's row
  lock while it sends, so a void waits for it); a mark voided before its mail went says
  nothing at all. With fees off there is no fee row to record it on: see ``void_fee``.
- **Lowering the case.** Marking may also lower the call's critical case to the default
  priority through ``cases.services.downgrade`` (a public timeline entry with the reason;
  the critical deadlines and the after-hours alarm stop), in the same transaction.
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
from casedesk.cases.models import Case, EventKind
from casedesk.cases.services import CaseError
from casedesk.core.retry import RetryPolicy, retrying
from casedesk.lib.months import month_span
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
    told: int  # how many people will be emailed
    lowered_to: str  # the case's new priority, or "" when it was left as it was
    not_lowered: str  # why the case was left as it was (when lowering was asked for)


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


def mark_non_emergency(
    call: Call, by: User, reason: str, *, lower_priority: bool = False
) -> Marked:
    """Mark ``call`` non-emergency (once) and charge the fee, if fees are on; with
    ``lower_priority``, lower its critical case to the default priority too."""
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
        lowered_to, not_lowered = _lower(current, by, text) if lower_priority else ("", "")
        told = _tell(current, "marked")
    return Marked(current, fee, told, lowered_to, not_lowered)


def _lower(call: Call, by: User, reason: str) -> tuple[str, str]:
    """Lower the call's critical case to the default priority: (new priority, "") when
    done, ("", why not) when the case is left as it is."""
    case = call.case
    if case is None:
        return "", "the call has no case"
    case = Case.objects.select_related("priority").get(pk=case.pk)
    if not case.priority.is_critical:
        return "", f"{case.reference} is {case.priority.name}, not critical"
    if not case.is_active:
        return "", f"{case.reference} is {case.get_status_display().lower()}"
    try:
        lower = case_services.default_priority()
        case_services.downgrade(
            case, lower, by, f"The call to the emergency line was not an emergency: {reason}"
        )
    except CaseError as exc:
        return "", str(exc)
    return lower.name, ""


def _tell(call: Call, what: str, reason: str = "") -> int:
    """Enqueue one mail per recipient (after the transaction commits); how many."""
    people = recipients(call)
    for person in people:
        tell_customer.enqueue(call.pk, what, person.pk, reason)
    return len(people)


def void_fee(call: Call, by: User, reason: str) -> Call:
    """Undo a mark: void its fee (if one was charged) and clear the call's mark; tell the
    customer who was told of the mark.

    With a fee, its ``told_at`` says whether the mark's mail went out. With fees off the
    mark has no row of its own to record that on, so the customer is told of the
    withdrawal whenever the mark had anyone to tell: if the mark's mail had not gone yet
    (voided within seconds of marking), that mail now finds the mark gone and stays
    silent, and only the withdrawal arrives.
    """
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
        if fee is None or fee.told_at is not None:
            _tell(current, "voided" if fee is not None else "withdrawn", text)
    return current


# ---- Who hears about it ----------------------------------------------------------------


def recipients(call: Call) -> list[User]:
    """The identified caller, else (nobody identified) the organization's active customers.

    An identified caller who can no longer be mailed (deactivated, no longer a customer)
    means nobody: their colleagues did not make the call. A caller recorded against
    another organization is no identification of this one (a data mix-up): the call's
    own organization is told, never the other's person.
    """
    if call.organization_id is None:
        return []
    caller = call.caller
    if caller is not None and caller.organization_id == call.organization_id:
        return [caller] if caller.is_active and caller.role == Role.CUSTOMER else []
    return list(
        User.objects.filter(
            organization=call.organization_id, role=Role.CUSTOMER, is_active=True
        ).order_by("email")
    )


TEMPLATES = {
    "marked": "phone/email/non_emergency",
    "voided": "phone/email/fee_voided",
    "withdrawn": "phone/email/mark_withdrawn",
}


@task()
@retrying(_MAIL_RETRY)
def tell_customer(call_id: int, what: str, person_id: int, reason: str = "") -> None:
    """Mail one recipient about the call: ``marked``, ``voided`` (its fee) or ``withdrawn``
    (the mark, fees off). ``reason``: why the mark was withdrawn.

    One task per recipient: a retry (the mail server failed) mails only this one. The
    recipient must still be one of the call's (not deactivated meanwhile).
    """
    from casedesk.cases.tasks import send_case_mail

    template = TEMPLATES.get(what)
    if template is None:
        raise ValueError(f"unknown message {what!r}")
    with transaction.atomic():
        # The row lock makes a void wait until this mail is sent and recorded (told_at).
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization", "case", "caller")
            .filter(pk=call_id)
            .first()
        )
        if call is None:
            return
        person = next((p for p in recipients(call) if p.pk == person_id), None)
        if person is None:
            return
        fee = Fee.objects.filter(call=call).first()
        if what == "marked" and call.non_emergency_at is None:
            return  # voided before the mail went: say nothing
        if what == "voided" and (fee is None or fee.voided_at is None):
            return
        if what == "withdrawn" and call.non_emergency_at is not None:
            return  # marked again meanwhile: that mark's mail says where things stand
        send_case_mail(
            template,
            {
                "call": call,
                "fee": fee,
                "recipient": person,
                "own_call": call.caller_id == person.pk,
                "reason": reason,
            },
            [person.email],
            zone_of(person),
            case=call.case,
        )
        if what == "marked" and fee is not None:
            Fee.objects.filter(pk=fee.pk, told_at__isnull=True).update(told_at=timezone.now())


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
    """The instants the calendar month around ``first`` starts and ends at in ``zone``."""
    return month_span(first.astimezone(zone).date(), zone)


def fees_of_month(
    organization: Organization, now: datetime, zone: zoneinfo.ZoneInfo
) -> QuerySet[Fee]:
    start, end = month_bounds(now, zone)
    return Fee.objects.filter(organization=organization, charged_at__gte=start, charged_at__lt=end)
