"""The on-call part of `casedesk demo`: the demo agents on the Support schedule, and one
page for `make run` to show on the console (no Twilio account: SMS and calls are printed).
"""

from __future__ import annotations

from django.db import transaction

from casedesk.accounts.models import User
from casedesk.cases import services as case_services
from casedesk.cases.models import Case, Priority
from casedesk.oncall import services
from casedesk.oncall.defaults import SCHEDULE_NAME, ensure_oncall
from casedesk.oncall.models import Layer, LayerMember, Page, Schedule

# 555 numbers only (fiction): primary, secondary, the manager (fallback).
DEMO_ONCALL = [
    ("agent@example.com", "+15555550111", 0),
    ("agent2@example.com", "+15555550112", 1),
    ("admin@example.com", "+15555550113", None),
]


def ensure_demo_oncall() -> list[str]:
    created = ensure_oncall()
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    for email, phone, layer_position in DEMO_ONCALL:
        person = User.objects.filter(email=email).first()
        if person is None:
            continue
        if not person.phone:
            person.phone = phone
            person.save(update_fields=["phone"])
        if layer_position is None:
            if schedule.fallback is None:
                schedule.fallback = person
                schedule.save(update_fields=["fallback"])
                created.append(f"on-call fallback {email}")
            continue
        layer = Layer.objects.filter(schedule=schedule, position=layer_position).first()
        if layer is not None and not layer.members.exists():
            LayerMember.objects.create(layer=layer, person=person)
            created.append(f"on-call {layer.name.lower()} {email}")
    return created


def critical_case(requester: User, subject: str = "Demo: nobody can log in (on-call page)") -> Case:
    """Open a critical case now through cases.services (after hours, that pages)."""
    critical = Priority.objects.filter(is_critical=True).first()
    if critical is None:
        raise LookupError("no critical priority")
    return case_services.open_case(
        case_services.NewCase(
            requester=requester,
            subject=subject,
            priority=critical,
            characteristics="c",
            business_impact="The whole company is locked out since a few minutes ago.",
            description="Opened to show an on-call page.",
        )
    )


@transaction.atomic
def demo_page(requester_email: str = "alice@acme.example") -> Page | None:
    """Open a critical case now and page it (even in hours)."""
    requester = User.objects.filter(email=requester_email).first()
    if requester is None or not Priority.objects.filter(is_critical=True).exists():
        return None
    return services.page(critical_case(requester))


def ensure_demo_page() -> list[str]:
    """One page for `make run` to print on the console, unless there has been one."""
    if Page.objects.exists():
        return []
    page = demo_page()
    return [f"on-call page {page.code} (a new critical case for Acme)"] if page else []
