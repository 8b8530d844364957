"""`casedesk demo` fills the call log once, and every demo call's page renders."""

from __future__ import annotations

import io
from decimal import Decimal

from django.core.management import call_command

from casedesk.phone.models import Call, Fee


def demo() -> str:
    out = io.StringIO()
    call_command("demo", "--force", stdout=out)
    return out.getvalue()


def test_the_demo_fills_the_call_log_once(calendars, help_articles, desk, settings):
    settings.PHONE_FEE = Decimal("150.00")
    assert "created 4 emergency calls in the call log" in demo()
    assert "emergency calls" not in demo()
    assert Call.objects.count() == 4
    fee = Fee.objects.get()
    assert (fee.organization.name, fee.amount) == ("Acme", Decimal("150.00"))
    assert fee.call.non_emergency_reason.startswith("Asked how to reset")
    voicemail = Call.objects.get(outcome="voicemail")
    assert [leg.outcome for leg in voicemail.legs.all()] == ["refused", "no_answer", "machine"]
    assert desk.get("/desk/phone/").status_code == 200
    for call in Call.objects.all():
        assert desk.get(f"/desk/phone/calls/{call.pk}/").status_code == 200
    assert desk.get(f"/desk/organizations/{fee.organization.pk}/").status_code == 200


def test_the_demo_calls_agree_with_the_demo_people(calendars, help_articles, desk):
    """A caller named on a call has the number it came from, and a connected call says
    when it was answered (the call page said "Connected ... Answered: no")."""
    demo()
    for call in Call.objects.exclude(caller=None):
        assert call.caller is not None and call.caller.phone == call.from_number
    assert Call.objects.filter(caller__email="alice@acme.example").count() == 2
    for call in Call.objects.filter(outcome="connected"):
        accepted = call.legs.get(outcome="accepted")
        assert call.answered_at == accepted.answered_at
        assert call.answered_by == accepted.person
        page = desk.get(f"/desk/phone/calls/{call.pk}/").content.decode()
        assert '<span class="muted">no</span></dd>' not in page
