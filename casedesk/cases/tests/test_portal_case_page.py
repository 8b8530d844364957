"""One case in the portal: the public timeline, the SLA target, and replying with files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casedesk.cases import services
from casedesk.cases.models import Status

pytestmark = pytest.mark.django_db
TUESDAY_MORNING = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 10:30 CST


@pytest.fixture
def case(open_case, alice):
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        return open_case(
            alice,
            "High",
            subject="Exports fail",
            description="Since the upgrade.",
            attachments=[SimpleUploadedFile("export.log", b"Traceback")],
        )


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def page(client, case) -> str:
    response = client.get(reverse("portal:case", args=[case.reference]))
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def reply_url(case) -> str:
    return reverse("portal:reply", args=[case.reference])


def test_the_case_page_shows_the_case_and_its_first_response_target(logged_in, case):
    html = page(logged_in, case)
    assert case.reference in html and "Exports fail" in html and "Since the upgrade." in html
    assert "first response target 4 business hours" in html
    assert 'data-testid="first-response"> Due by <strong><time' in html
    assert "Tuesday 1 December, 14:30 CST" in html


def test_once_support_answers_the_page_says_when(logged_in, case, agent):
    services.add_reply(case, agent, "Looking at it.")
    html = page(logged_in, case)
    assert "Answered" in html and "Due by" not in html
    assert (
        "Looking at it." in html
        and "Sam Agent" in html
        and '<span class="tag">Support</span>' in html
    )


def test_the_timeline_shows_the_opening_files_with_download_links(logged_in, case):
    attachment = case.attachments.get()
    html = page(logged_in, case)
    url = reverse("case_file", args=[case.reference, attachment.pk, attachment.name])
    assert f'href="{url}"' in html and "export.log" in html
    assert logged_in.get(url).status_code == 200


def test_status_changes_show_with_their_reason(logged_in, case, agent):
    services.change_status(case, Status.PENDING, agent, reason="We need your log file.")
    html = page(logged_in, case)
    assert "Status: New → Pending customer" in html
    assert "Reason: We need your log file." in html
    assert "the clock is paused while we wait for your reply" in html


def test_a_downgrade_shows_why(logged_in, alice, agent, open_case, priorities):
    critical = open_case(alice, "Critical", subject="Slow search")
    services.downgrade(critical, priorities["Medium"], agent, "Search works, only slowly.")
    html = page(logged_in, critical)
    assert "Downgraded from Critical to Medium" in html
    assert "Why it was downgraded: Search works, only slowly." in html


def test_a_priority_change_shows_with_its_reason(logged_in, case, agent, priorities):
    services.change_priority(case, priorities["Low"], agent, "A workaround exists.")
    html = page(logged_in, case)
    assert "Priority: High → Low" in html and "Reason: A workaround exists." in html


def test_the_customer_replies_with_files_and_comes_back_to_the_page(logged_in, case, alice):
    response = logged_in.post(
        reply_url(case),
        {"body": "Here is the full log.", "attachments": [SimpleUploadedFile("full.log", b"more")]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:case", args=[case.reference]) + "#latest"
    event = case.events.get(body="Here is the full log.")
    assert event.author == alice and event.public
    assert [a.name for a in event.attachments.all()] == ["full.log"]
    html = " ".join(logged_in.get(response["Location"]).content.decode().split())
    assert "Your reply was added" in html and "full.log" in html


def test_a_reply_to_a_case_pending_on_the_customer_reopens_it(logged_in, case, agent):
    services.change_status(case, Status.PENDING, agent, reason="Need logs.")
    logged_in.post(reply_url(case), {"body": "Logs attached."})
    case.refresh_from_db()
    assert case.status == Status.OPEN


def test_an_empty_reply_is_refused_with_the_services_message(logged_in, case):
    response = logged_in.post(reply_url(case), {"body": "   "})
    assert response.status_code == 400
    assert "Write a reply or attach a file." in response.content.decode()
    assert case.events.count() == 1


def test_a_refused_reply_keeps_the_text_and_asks_for_the_files_again(logged_in, case, settings):
    settings.ATTACHMENT_MAX_BYTES = 3
    response = logged_in.post(
        reply_url(case),
        {"body": "My notes", "attachments": [SimpleUploadedFile("big.log", b"12345")]},
    )
    html = " ".join(response.content.decode().split())
    assert response.status_code == 400
    print(html[html.find("Reply</h2>") :][:1500])
    assert "big.log is 5" in html and "> My notes</textarea>" in html
    assert "choose your files again" in html


def test_a_closed_case_offers_a_new_case_instead_of_a_reply_box(logged_in, case, agent):
    services.change_status(case, Status.CLOSED, agent)
    html = page(logged_in, case)
    assert 'data-testid="closed-note"' in html and reverse("portal:new") in html
    assert reply_url(case) not in html


def test_replying_to_a_closed_case_shows_why_it_is_refused(logged_in, case, agent):
    services.change_status(case, Status.CLOSED, agent)
    response = logged_in.post(reply_url(case), {"body": "One more thing"})
    assert response.status_code == 400
    assert f"{case.reference} is closed; open a new case and mention {case.reference}." in (
        response.content.decode()
    )
    assert not case.events.filter(body="One more thing").exists()


@pytest.mark.usefixtures("steady_status_version")
def test_the_case_page_costs_the_same_queries_however_long_the_timeline(logged_in, case, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page(logged_in, case)
    with CaptureQueriesContext(connection) as short:
        page(logged_in, case)
    for n in range(5):
        services.add_reply(
            case, agent, f"Update {n}", attachments=[SimpleUploadedFile(f"{n}.log", b"x")]
        )
    with CaptureQueriesContext(connection) as long:
        page(logged_in, case)
    assert len(long) == len(short)
