"""A critical email outside hours pages the on-call engineer; automated mail never does."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.core import mail as outbox

from casedesk.cases.models import Case
from casedesk.mail.store import store
from casedesk.mail.tests.conftest import build
from casedesk.oncall.models import Page
from casedesk.oncall.tests.conftest import PAT_PHONE

pytestmark = pytest.mark.django_db(transaction=True)

SATURDAY_NIGHT = "2026-11-28T08:00:00Z"  # 02:00 in Chicago


@pytest.fixture
def mail_ready(priorities: Any, calendars: None, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"


def test_a_critical_email_after_hours_texts_the_primary_and_says_so_in_the_auto_reply(
    mail_ready: None, team: dict[str, Any], standin: Any, alice: Any, run_tasks: Any
) -> None:
    with time_machine.travel(SATURDAY_NIGHT, tick=True):
        store(build("CRITICAL: checkout is down", "Nobody can pay."), source="smtp",
              envelope_from="alice@acme.example")  # fmt: skip
        run_tasks()
    case = Case.objects.get()
    page = Page.objects.get()
    assert page.organization == alice.organization and case.priority.is_critical
    texts = [r.form["Body"] for r in standin.sent("Messages") if r.form["To"] == PAT_PHONE]
    assert texts and "checkout is down" in texts[0]
    [reply] = [m for m in outbox.outbox if m.to == ["alice@acme.example"]]
    assert reply.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "on-call engineer has been paged" in reply.body


def test_an_automated_critical_mail_pages_nobody(
    mail_ready: None, team: dict[str, Any], standin: Any, alice: Any, run_tasks: Any
) -> None:
    with time_machine.travel(SATURDAY_NIGHT, tick=True):
        raw = build("CRITICAL: disk 91% full", headers={"Auto-Submitted": "auto-generated"})
        store(raw, source="smtp", envelope_from="alice@acme.example")
        run_tasks()
    assert Case.objects.get().priority.is_critical is False
    assert not Page.objects.exists() and standin.sent() == []
