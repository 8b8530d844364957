"""The desk's mail pages: staff only, held mail can be assigned, released or dismissed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from casedesk.cases.models import Case
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.tests.conftest import build, div_soup

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


# ---- Hostile mail (issue 16): the page stays small whatever the message ---------------


def _message_of_25_mb() -> bytes:
    line = "2026-11-28 02:00:01 ERROR checkout failed: payment gateway timed out\n"
    text = line * (21_500_000 // len(line))
    return build(
        "CRITICAL: 20 MB of logs",
        text,
        html="<p>" + "All orders fail since 02:00. " * 1000 + "</p>\n" * 3000,
        attachments=[("trace.log", "text/plain", line.encode() * 30_000)],
    )


def test_the_page_of_a_25_mb_message_stays_small_and_offers_the_original(
    desk: Client, deliver: Any, alice: Any, settings: Any
) -> None:
    raw = _message_of_25_mb()
    assert 24_000_000 < len(raw) <= settings.MAIL_MAX_BYTES
    deliver(raw)
    message = InboundMessage.objects.get()
    page = desk.get(reverse("mail:message", args=[message.pk]))
    assert page.status_code == 200
    assert len(page.content) < 1_000_000
    raw_link = reverse("mail:raw", args=[message.pk]).encode()
    assert raw_link in page.content
    assert b"The text is too large to display in full" in page.content
    assert b"its parts are not listed here" in page.content
    assert b"CRITICAL: 20 MB of logs" in page.content  # the headers are read
    assert b"alice@acme.example" in page.content
    assert len(desk.get(raw_link.decode()).content) == len(raw)  # the original, whole


def test_the_page_says_why_a_hostile_html_body_is_not_shown(
    desk: Client, deliver: Any, alice: Any
) -> None:
    deliver(div_soup(75_000))
    message = InboundMessage.objects.get()
    page = desk.get(reverse("mail:message", args=[message.pk]))
    assert page.status_code == 200
    assert b'data-testid="mail-notice"' in page.content
    assert b"too complex to display" in page.content
    assert b"<iframe" not in page.content
    assert reverse("mail:raw", args=[message.pk]).encode() in page.content


def test_a_pending_message_page_reads_the_text_without_sanitising(
    desk: Client, mail_setup: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casedesk.mail import parse as parse_module
    from casedesk.mail.store import store

    sanitised: list[str] = []
    monkeypatch.setattr(parse_module, "sanitise_html", sanitised.append)
    stored = store(build("Hi", "", html="<p>Hello <b>there</b></p>"), source="smtp")
    page = desk.get(reverse("mail:message", args=[stored.message.pk]))
    assert page.status_code == 200 and b"Hello there" in page.content
    assert sanitised == []  # a page view never runs nh3: processing did, within its limits
