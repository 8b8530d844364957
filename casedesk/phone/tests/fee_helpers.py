"""Calls for the triage, fee and desk tests: rows as the call flow leaves them.

The call flow (Twilio webhooks) is tested on its own; these tests start from a finished
call in the log. 555 numbers only.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from casedesk.phone.models import Call, CallOutcome, Fee, Leg

_sids = itertools.count(1)
ACME_PHONE = "+15555550101"
GLOBEX_PHONE = "+15555550102"
FEE = Decimal("150.00")


def make_call(
    organization: Any = None,
    *,
    caller: Any = None,
    case: Any = None,
    number: str = ACME_PHONE,
    outcome: str = CallOutcome.CONNECTED,
    started_at: datetime | None = None,
    **fields: Any,
) -> Call:
    started = started_at or timezone.now()
    return Call.objects.create(
        sid=f"CA{next(_sids):032x}",
        from_number=number,
        to_number="+15555550100",
        organization=organization,
        caller=caller,
        case=case,
        started_at=started,
        outcome=outcome,
        status="completed",
        **fields,
    )


def make_fee(call: Call, by: Any, at: datetime, amount: Decimal = FEE, **fields: Any) -> Fee:
    """A fee charged at ``at`` (the report tests place fees at exact instants)."""
    Call.objects.filter(pk=call.pk).update(
        non_emergency_at=at, non_emergency_by=by, non_emergency_reason="Password reset"
    )
    fields.setdefault("reason", "Password reset")
    fields.setdefault("currency", "USD")
    assert call.organization is not None, "a fee needs the call's organization"
    return Fee.objects.create(
        organization=call.organization,
        call=call,
        amount=amount,
        charged_at=at,
        charged_by=by,
        **fields,
    )


def make_leg(
    call: Call, position: int, person: Any, outcome: str, started_at: datetime, **fields: Any
) -> Leg:
    """Engineer number ``position`` the line dialled, with their own phone number."""
    return Leg.objects.create(
        call=call,
        position=position,
        person=person,
        number=person.phone or "+15555550111",
        outcome=outcome,
        started_at=started_at,
        **fields,
    )
