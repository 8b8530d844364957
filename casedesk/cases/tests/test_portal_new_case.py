"""Opening a case in the portal: priorities with their definitions and targets, the critical
questions, after-hours words, files, and the confirmation page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from casedesk.cases.models import Case, EventKind

pytestmark = pytest.mark.django_db

TUESDAY_MORNING = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 10:30 CST
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 09:00 CST, closed


@pytest.fixture(autouse=True)
def files_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def logged_in(client, alice, calendars):
    client.force_login(alice)
    return client


def flat(response) -> str:
    return " ".join(response.content.decode().split())


def critical_form(priorities, **extra):
    return {
        "subject": "Nobody can log in",
        "description": "Since 09:00 every log-in fails.",
        "priority": priorities["Critical"].pk,
        "characteristics": ["c"],
        "business_impact": "All 300 staff are idle.",
        **extra,
    }


def test_the_form_lists_each_priority_with_its_definition_and_target(logged_in, priorities):
    html = flat(logged_in.get(reverse("portal:new")))
    for priority in priorities.values():
        assert f'value="{priority.pk}"' in html
        assert priority.first_response_text in html
    assert "2 hours, around the clock" in html and "4 business hours" in html
    assert "A question, a how-to, a cosmetic problem" in html


def test_the_critical_definition_and_questions_are_in_the_page_without_script(
    logged_in, priorities
):
    html = flat(logged_in.get(reverse("portal:new")))
    assert 'data-testid="critical-definition"' in html
    assert "Production use of the product is stopped" in html
    for text in ("(a) data corruption", "(b) the product hangs", "(c) the product is inaccessible"):
        assert text in html
    assert 'name="business_impact"' in html
    assert (
        "data-critical-details" in html
        and " hidden" not in html.split("data-critical-details")[1][:5]
    )
    assert (
        f'value="{priorities["Critical"].pk}" id="id_priority_{priorities["Critical"].pk}" data-critical'
        in html
    )
    assert "cases/portal.js" in html


def test_a_case_opened_in_hours_lands_on_its_confirmation(logged_in, alice, priorities):
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        logged_in.force_login(alice)
        response = logged_in.post(
            reverse("portal:new"),
            {
                "subject": "Reports are slow",
                "description": "Takes a minute.",
                "priority": priorities["High"].pk,
            },
        )
        case = Case.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:opened", args=[case.reference])
        page = flat(logged_in.get(response["Location"]))
    assert case.requester == alice and case.organization == alice.organization
    assert case.channel == "portal" and case.description == "Takes a minute."
    assert f"Case {case.reference} is open" in page
    assert "Our target for a first response is <strong>4 business hours</strong>" in page
    assert "Tuesday 1 December, 14:30 CST" in page  # 10:30 + 4 business hours
    assert reverse("portal:case", args=[case.reference]) in page


def test_a_critical_case_with_its_characteristics_and_impact_is_opened(logged_in, priorities):
    response = logged_in.post(
        reverse("portal:new"), critical_form(priorities, characteristics=["a", "c"])
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.priority.is_critical
    assert case.characteristics == "ac" and case.business_impact == "All 300 staff are idle."


def test_a_critical_case_without_characteristics_or_impact_is_refused_with_the_reasons(
    logged_in, priorities
):
    response = logged_in.post(
        reverse("portal:new"), critical_form(priorities, characteristics=[], business_impact="")
    )
    assert response.status_code == 400
    html = flat(response)
    assert "A critical case needs at least one of (a), (b) or (c)" in html
    assert "Describe the business impact" in html
    assert 'id="id_characteristics_error"' in html and 'id="id_business_impact_error"' in html
    assert 'value="Nobody can log in"' in html  # input kept
    assert "Since 09:00 every log-in fails." in html
    assert f'id="id_priority_{priorities["Critical"].pk}" data-critical checked' in html
    assert not Case.objects.exists()


def test_files_are_attached_to_the_new_case(logged_in, priorities):
    files = [
        SimpleUploadedFile("error.log", b"Traceback: boom"),
        SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\nfake"),
    ]
    response = logged_in.post(
        reverse("portal:new"),
        {"subject": "Crash", "priority": priorities["Medium"].pk, "attachments": files},
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert sorted(a.name for a in case.attachments.all()) == ["error.log", "screen.png"]
    assert all(a.public for a in case.attachments.all())
    event = case.attachments.get(name="error.log").event
    assert event is not None and event.kind == EventKind.OPENED


def test_after_an_error_the_form_asks_for_the_files_again(logged_in, priorities):
    response = logged_in.post(
        reverse("portal:new"),
        {
            "subject": "",
            "priority": priorities["Low"].pk,
            "attachments": [SimpleUploadedFile("a.log", b"x")],
        },
    )
    assert response.status_code == 400
    assert "choose your files again" in flat(response)
    assert not Case.objects.exists()


def test_after_an_error_without_files_nothing_is_said_about_files(logged_in, priorities):
    response = logged_in.post(
        reverse("portal:new"), {"subject": "", "priority": priorities["Low"].pk}
    )
    assert "choose your files again" not in flat(response)


def test_outside_hours_the_form_says_support_is_closed_and_when_it_reopens(
    client, alice, calendars
):
    with time_machine.travel(SATURDAY, tick=False):
        client.force_login(alice)
        html = flat(client.get(reverse("portal:new")))
    notice = html.split('data-testid="after-hours"')[1].split("</div>")[0]
    assert "Support is closed now." in notice
    assert "It reopens Monday 30 November, 07:00 CST" in notice
    assert "only critical cases get immediate attention" in notice


def test_in_hours_the_form_has_no_after_hours_notice(client, alice, calendars):
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        client.force_login(alice)
        html = flat(client.get(reverse("portal:new")))
    assert 'data-testid="after-hours"' not in html


def test_a_low_case_on_saturday_is_queued_and_the_confirmation_says_when_we_reopen(
    client, alice, priorities
):
    with time_machine.travel(SATURDAY, tick=False):
        client.force_login(alice)
        response = client.post(
            reverse("portal:new"), {"subject": "How do I export?", "priority": priorities["Low"].pk}
        )
        page = flat(client.get(response["Location"]))
    assert (
        "Support is closed now. It reopens <strong>Monday 30 November, 07:00 CST</strong>" in page
    )
    assert "only critical cases get immediate attention; yours is queued" in page


def test_a_critical_case_on_saturday_is_confirmed_with_the_on_call_promise(
    client, alice, priorities
):
    with time_machine.travel(SATURDAY, tick=False):
        client.force_login(alice)
        response = client.post(reverse("portal:new"), critical_form(priorities))
        page = flat(client.get(response["Location"]))
    case = Case.objects.get()
    assert case.opened_after_hours
    assert "Critical cases are worked around the clock" in page
    assert "Saturday 28 November, 11:00 CST" in page  # 09:00 + 2 hours around the clock


def test_the_confirmation_uses_the_customers_own_zone(client, alice, priorities):
    alice.time_zone = "Europe/Berlin"
    alice.save()
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        client.force_login(alice)
        response = client.post(
            reverse("portal:new"), {"subject": "Slow", "priority": priorities["High"].pk}
        )
        page = flat(client.get(response["Location"]))
    assert (
        "Tuesday 1 December, 21:30 CET" in page and "(Tuesday 14:30 CST, America/Chicago)" in page
    )


# ---- One case per form: the hidden token ---------------------------------------------


def _token(html: str) -> str:
    found = re.search(r'<input type="hidden" name="submission" value="([^"]+)">', html)
    assert found, "the form carries no submission token"
    return found.group(1)


def test_each_form_carries_its_own_submission_token(logged_in):
    first = _token(logged_in.get(reverse("portal:new")).content.decode())
    second = _token(logged_in.get(reverse("portal:new")).content.decode())
    assert first != second and len(first) >= 32


def test_posting_the_same_form_again_shows_the_case_it_opened(logged_in, priorities):
    token = _token(logged_in.get(reverse("portal:new")).content.decode())
    form = critical_form(priorities, submission=token)
    first = logged_in.post(reverse("portal:new"), form)
    again = logged_in.post(reverse("portal:new"), {**form, "subject": "Edited after"})
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    case = Case.objects.get()
    assert case.subject == "Nobody can log in"
    # A new form (a new token) opens a new case.
    fresh = _token(logged_in.get(reverse("portal:new")).content.decode())
    logged_in.post(reverse("portal:new"), critical_form(priorities, submission=fresh))
    assert Case.objects.count() == 2


def test_a_form_shown_again_with_errors_keeps_its_token(logged_in, priorities):
    token = _token(logged_in.get(reverse("portal:new")).content.decode())
    refused = logged_in.post(
        reverse("portal:new"), critical_form(priorities, submission=token, business_impact="")
    )
    assert refused.status_code == 400
    assert _token(refused.content.decode()) == token
    assert not Case.objects.exists()
    assert logged_in.post(reverse("portal:new"), critical_form(priorities, submission=token))[
        "Location"
    ].endswith("/opened/")
    assert Case.objects.count() == 1


def test_a_damaged_token_is_refused_with_a_reason_and_a_new_token(logged_in, priorities):
    response = logged_in.post(
        reverse("portal:new"), critical_form(priorities, submission="<script>x</script>")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This form was damaged in transit" in html
    assert "script" not in _token(html)
    assert not Case.objects.exists()


def test_another_customer_with_the_same_token_gets_a_case_of_their_own(
    client, alice, bob, priorities, calendars
):
    form = critical_form(priorities, submission="t" * 32)
    client.force_login(alice)
    client.post(reverse("portal:new"), form)
    client.force_login(bob)
    client.post(reverse("portal:new"), form)
    assert sorted(c.requester.email for c in Case.objects.all()) == sorted([alice.email, bob.email])


@pytest.mark.django_db(transaction=True)
def test_three_concurrent_posts_of_one_form_open_one_case(alice, priorities, calendars, settings):
    """Three posts of one form at the same instant (a triple click, a proxy's retries),
    each in its own thread with its own database connection: one case, and all three
    land on its confirmation."""
    from casedesk.core.tests.concurrency import race

    settings.ALLOWED_HOSTS = ["testserver"]
    browser = Client()
    browser.force_login(alice)
    token = _token(browser.get(reverse("portal:new")).content.decode())
    form = critical_form(priorities, submission=token)
    cookies = browser.cookies

    def post() -> tuple[int, str]:
        tab = Client()
        tab.cookies = cookies
        response = tab.post(reverse("portal:new"), form)
        return response.status_code, response.get("Location", "")

    results = race(3, post)
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert set(results) == {(302, reverse("portal:opened", args=[case.reference]))}
