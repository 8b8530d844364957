"""What a page says when a case on it came by mail whose sender was not verified (issue 17):
the SMS, the mail and the voice call say "sender not verified"; the SMS keeps its budget."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail as outbox
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from casedesk.cases.models import Case
from casedesk.oncall import services, tasks
from casedesk.oncall.models import Notification, NotificationRule, Page

from .conftest import PAT_PHONE, bodies_to
from .test_acknowledgement import signed_post, sms_notification

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)  # a Wednesday, 2 a.m.
BASE = "https://desk.example.com"
# The signed acknowledgement link, whole, at the end of the SMS.
ACK_LINK = re.compile(rf"{re.escape(BASE)}/oncall/ack/([^/\s]+)/$")


@pytest.fixture
def by_sms_and_mail(sms_only: dict[str, Any]) -> dict[str, Any]:
    """The team; Pat is paged by mail too."""
    NotificationRule.objects.create(person=sms_only["pat"], channel="email", delay=timedelta(0))
    return sms_only


def _page_at_night(open_case: Any, requester: Any, run_tasks: Any, *, unverified: bool,
                   subject: str = "Logins fail") -> Case:  # fmt: skip
    """A critical case at night, marked as the mail pipeline marks an unverified sender's,
    and the page's first step run (its texts, mails and calls sent)."""
    with time_machine.travel(NIGHT, tick=False):
        case: Case = open_case(requester, "Critical", subject=subject)
        Case.objects.filter(pk=case.pk).update(unverified_sender=unverified)
        run_tasks()
    case.refresh_from_db()
    return case


def _mail_to(address: str) -> Any:
    [message] = [m for m in outbox.outbox if m.to == [address]]
    return message


def test_the_sms_and_the_mail_say_the_sender_is_not_verified(
    by_sms_and_mail: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    case = _page_at_night(open_case, alice, run_tasks, unverified=True)
    [text] = bodies_to(standin, PAT_PHONE)
    assert text.startswith("casedesk CRITICAL (SENDER NOT VERIFIED) Acme ")
    assert case.reference in text and "Logins fail" in text
    mail = _mail_to("pat@example.com")
    assert "(sender not verified)" in mail.subject
    assert "SENDER NOT VERIFIED" in mail.body and "alice@acme.example" in mail.body
    assert "Check with the customer before acting on it." in mail.body
    [(html, _type)] = mail.alternatives
    assert "<strong>sender not verified</strong>" in html


def test_the_acknowledgement_page_says_which_case_has_an_unverified_sender(
    sms_only: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    case = _page_at_night(open_case, alice, run_tasks, unverified=True)
    notification = sms_notification(Page.objects.get(), sms_only["pat"])
    with time_machine.travel(NIGHT + timedelta(minutes=1), tick=False):
        page = Client().get(services.ack_url(notification).removeprefix(BASE))
    html = page.content.decode()
    item = html[html.index(case.reference) :]
    item = item[: item.index("</li>")]
    assert 'data-testid="sender-not-verified"' in item and "check with them" in item


def test_a_page_about_a_verified_sender_says_nothing_of_senders(
    by_sms_and_mail: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    _page_at_night(open_case, alice, run_tasks, unverified=False)
    [text] = bodies_to(standin, PAT_PHONE)
    assert text.startswith("casedesk CRITICAL Acme ")
    mail = _mail_to("pat@example.com")
    for said in (text, mail.subject, mail.body, mail.alternatives[0][0]):
        assert "verified" not in said.lower()


def test_a_page_says_it_when_any_of_its_cases_is_unverified(
    sms_only: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    _page_at_night(open_case, alice, run_tasks, unverified=False)
    with time_machine.travel(NIGHT + timedelta(minutes=5), tick=False):
        second = open_case(alice, "Critical", subject="Reports are empty")
        Case.objects.filter(pk=second.pk).update(unverified_sender=True)
    notification = sms_notification(Page.objects.get(), sms_only["pat"])
    text = tasks.build_message(notification).text
    assert "SENDER NOT VERIFIED" in text and "(+1 more)" in text
    assert second.reference in text  # the newest case is named


# ---- The SMS budget: 320 characters, the acknowledgement link never cut ----------------


def _assert_fits_with_its_link(text: str, notification: Notification) -> None:
    assert len(text) <= tasks.SMS_BUDGET, (len(text), text)
    found = ACK_LINK.search(text)
    assert found is not None, text
    with time_machine.travel(NIGHT + timedelta(minutes=1), tick=False):  # the link's lifetime
        assert services.notification_for_token(found.group(1)) == notification


def test_the_longest_sms_stays_within_its_budget_and_keeps_the_whole_link(
    sms_only: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    alice.organization.name = "Acme Consolidated Widgets, Gadgets and Sprockets " * 4  # 200
    alice.organization.name = alice.organization.name[:200]
    alice.organization.save()
    longest = "CRITICAL: " + "every order fails at checkout with error 502 " * 5
    case = _page_at_night(open_case, alice, run_tasks, unverified=True, subject=longest[:200])
    [sent] = bodies_to(standin, PAT_PHONE)
    notification = sms_notification(Page.objects.get(), sms_only["pat"])
    _assert_fits_with_its_link(sent, notification)
    assert sent.startswith("casedesk CRITICAL (SENDER NOT VERIFIED) Acme Consolidated")
    assert case.reference in sent and "\u2026" in sent  # the name and subject were cut
    # The longest head a page has: a join notice ("NEW CASE on your page: ") about one case.
    notification.case = case
    joined = tasks.build_message(notification).text
    assert joined.startswith("casedesk NEW CASE on your page: CRITICAL (SENDER NOT VERIFIED)")
    _assert_fits_with_its_link(joined, notification)


@given(
    organization=st.text(max_size=200),
    subject=st.text(max_size=200),
    more=st.integers(min_value=0, max_value=999),
)
def test_any_name_and_subject_fit_the_sms_budget_around_the_link(
    organization: str, subject: str, more: int
) -> None:
    head = "casedesk NEW CASE on your page: CRITICAL" + tasks.UNVERIFIED_SMS
    link = BASE + "/oncall/ack/" + "x" * 90 + "/"
    tail = f" (+{more} more), opened 02:00 CST. Reply 1 or ACK K7QF, or: {link}"
    text = tasks._sms_text(head, organization, "CD-100042", subject, tail, tasks.SMS_BUDGET)
    assert len(text) <= tasks.SMS_BUDGET
    assert text.startswith(head) and text.endswith(tail) and "CD-100042" in text
    assert "\n" not in text.removesuffix(tail)


# ---- The voice call ---------------------------------------------------------------------


def _call(team: dict[str, Any], standin: Any) -> str:
    notification = sms_notification(Page.objects.get(), team["pat"])
    path = services.voice_url(notification).removeprefix(BASE)
    return str(signed_post(Client(), standin, path, {"CallSid": "CA" + "2" * 32}).content.decode())


def test_the_call_says_the_sender_is_not_verified(
    sms_only: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.ALLOWED_HOSTS = ["testserver", "desk.example.com"]
    _page_at_night(open_case, alice, run_tasks, unverified=True)
    twiml = _call(sms_only, standin)
    assert "<Gather" in twiml and "the sender is not verified" in twiml
    assert twiml.index("not verified") < twiml.index("Press 1 to acknowledge")


def test_the_call_about_a_verified_sender_says_nothing_of_senders(
    sms_only: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.ALLOWED_HOSTS = ["testserver", "desk.example.com"]
    _page_at_night(open_case, alice, run_tasks, unverified=False)
    twiml = _call(sms_only, standin)
    assert "<Gather" in twiml and "verified" not in twiml


def test_a_page_in_hours_does_not_say_after_hours(
    by_sms_and_mail: dict[str, Any],
    alice: Any,
    priorities: Any,
    calendars: None,
    standin: Any,
    run_tasks: Any,
) -> None:
    from casedesk.oncall.demo import demo_page

    with time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=CT), tick=False):  # Wed 10:00
        assert demo_page(alice.email) is not None  # pages even in hours
        run_tasks()
    mail = _mail_to("pat@example.com")
    assert "Critical in hours: Acme" in mail.subject
    assert "after hours" not in mail.subject


def test_a_page_after_hours_says_so(
    by_sms_and_mail: dict[str, Any], alice: Any, open_case: Any, standin: Any, run_tasks: Any
) -> None:
    _page_at_night(open_case, alice, run_tasks, unverified=False)
    assert "Critical after hours: Acme" in _mail_to("pat@example.com").subject
