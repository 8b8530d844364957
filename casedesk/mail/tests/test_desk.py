"""The desk's mail pages: staff only, held mail can be assigned, released or dismissed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from casedesk.cases.models import Case
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.tests.conftest import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(deliver: Any) -> InboundMessage:
    raw = build("Hello", "<b>hi</b>", sender="Dana <dana@elsewhere.example>")
    deliver(raw, envelope_from="dana@elsewhere.example")
    return InboundMessage.objects.get()


def test_held_mail_is_listed_as_needing_attention(desk: Client, held: InboundMessage) -> None:
    page = desk.get(reverse("mail:inbox"))
    assert page.status_code == 200
    assert b"dana@elsewhere.example" in page.content and b"Needs attention (1)" in page.content


def test_customers_and_strangers_get_no_mail_pages(
    client: Client, alice: Any, held: InboundMessage
) -> None:
    urls = [
        reverse("mail:inbox"),
        reverse("mail:message", args=[held.pk]),
        reverse("mail:raw", args=[held.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to the log-in page
    client.force_login(alice)
    for url in urls:
        assert client.get(url).status_code == 404
    assert client.post(reverse("mail:release", args=[held.pk])).status_code == 404


def test_assigning_the_sender_opens_the_case(desk: Client, held: InboundMessage, acme: Any) -> None:
    answer = desk.post(reverse("mail:assign", args=[held.pk]), {"organization": acme.pk})
    assert answer.status_code == 302
    held.refresh_from_db()
    assert held.state == State.CREATED
    assert Case.objects.get().organization == acme


def test_assigning_without_an_organization_says_what_to_fix(
    desk: Client, held: InboundMessage
) -> None:
    answer = desk.post(reverse("mail:assign", args=[held.pk]), {"organization": "garbage"})
    assert answer.status_code == 400
    assert b"Select a valid choice" in answer.content
    held.refresh_from_db()
    assert held.state == State.HELD


def test_dismissing_needs_a_reason_and_keeps_the_message(
    desk: Client, held: InboundMessage
) -> None:
    assert desk.post(reverse("mail:dismiss", args=[held.pk]), {"reason": ""}).status_code == 400
    desk.post(reverse("mail:dismiss", args=[held.pk]), {"reason": "spam"})
    held.refresh_from_db()
    assert held.state == State.IGNORED and held.outcome == "ignored: spam (agent@example.com)"
    assert bytes(held.raw)


def test_a_processed_message_cannot_be_released_twice(
    desk: Client, deliver: Any, alice: Any
) -> None:
    deliver(build("Fine"))
    message = InboundMessage.objects.get()
    answer = desk.post(reverse("mail:release", args=[message.pk]), follow=True)
    assert b"already dealt with" in answer.content
    assert Case.objects.count() == 1


def test_the_original_is_a_download_never_a_page(desk: Client, held: InboundMessage) -> None:
    answer = desk.get(reverse("mail:raw", args=[held.pk]))
    assert answer["Content-Type"] == "message/rfc822"
    assert answer["Content-Disposition"].startswith("attachment;")
    assert answer["Content-Security-Policy"] == "sandbox"
    assert answer.content == bytes(held.raw)


def test_html_mail_is_shown_sanitised_in_a_sandboxed_frame(
    desk: Client, deliver: Any, alice: Any
) -> None:
    raw = build(
        "Pixel",
        "text",
        html='<p>Hi</p><img src="https://tracker.example/p.gif"><script>x()</script>',
    )
    deliver(raw)
    page = desk.get(reverse("mail:message", args=[InboundMessage.objects.get().pk]))
    content = page.content.decode()
    assert 'sandbox=""' in content and "default-src &#x27;none&#x27;" in content
    assert "&lt;script" not in content and "x()" not in content


def test_an_emailed_reply_links_to_the_full_message_on_the_case_page(
    desk: Client, deliver: Any, alice: Any
) -> None:
    outcome = deliver(build("Help", "Hi\n\nOn Mon, Sam wrote:\n> old"))
    page = desk.get(reverse("desk:case", args=[outcome.case.reference]))
    assert reverse("mail:message", args=[InboundMessage.objects.get().pk]).encode() in page.content
