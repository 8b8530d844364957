"""The desk's mail pages: staff only, held and suspended mail can be assigned, released or
dismissed; the Sender panel; "sender not verified" on cases, never in the portal."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from casedesk.cases.models import Case, Event, EventKind
from casedesk.mail.models import InboundMessage, State
from casedesk.mail.senders import Verdict
from casedesk.mail.store import store
from casedesk.mail.tests.conftest import build, div_soup
from casedesk.oncall.tests.conftest import oncall_defaults, team  # noqa: F401 (fixtures)

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


# ---- Suspended mail: the sender could not be verified (issue 17) ------------------------

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)  # a Wednesday, 2 a.m.
IN_HOURS = datetime(2026, 12, 2, 10, 0, tzinfo=CT)
FORGED = Verdict(
    from_domain="acme.example",
    spf="fail",
    spf_domain="acme.example",
    dmarc="fail",
    dmarc_policy="reject",
)


def _suspended(
    subject: str,
    *,
    sender: str = "alice@acme.example",
    verdict: Verdict = FORGED,
    client_ip: str = "203.0.113.9",
    helo: str = "mail.forger.example",
) -> InboundMessage:
    """A message as the pipeline leaves one whose sender failed verification."""
    raw = build(subject, "Everything is down, call me.", sender=f"Someone <{sender}>")
    stored = store(raw, source="smtp", envelope_from=sender, recipients=["support@example.com"])
    InboundMessage.objects.filter(pk=stored.message.pk).update(
        state=State.SUSPENDED,
        from_address=sender,
        subject=subject,
        sender_check=verdict.judgment,
        sender_detail=verdict.reason,
        reason=verdict.reason,
        outcome=f"suspended: {verdict.reason}"[:400],
        client_ip=client_ip,
        helo=helo,
    )
    return InboundMessage.objects.get(pk=stored.message.pk)


def _rows(page: Any) -> list[str]:
    """The subjects of the mail list's rows, top to bottom."""
    return re.findall(r'<a href="/desk/mail/\d+/">([^<]*)</a>', page.content.decode())


def test_suspended_mail_waits_with_its_reason_its_count_and_a_release_button(
    desk: Client, mail_setup: None, held: InboundMessage
) -> None:
    message = _suspended("Invoice question")
    page = desk.get(reverse("mail:inbox"))
    content = page.content.decode()
    assert "Needs attention (2)" in content
    assert "Suspended: sender not verified (1)" in content
    assert "acme.example publishes DMARC p=reject and this message fails it" in content
    release = f'action="{reverse("mail:release", args=[message.pk])}"'
    form = content[content.index(release) : content.index("</form>", content.index(release))]
    assert 'method="post"' in content[content.rindex("<form", 0, content.index(release)) :]
    assert "csrfmiddlewaretoken" in form and ">Release</button>" in form
    only = desk.get(reverse("mail:inbox"), {"show": "suspended"})
    assert _rows(only) == ["Invoice question"]  # the held one is under "Needs attention"
    assert "dana@elsewhere.example" not in only.content.decode()
    assert 'aria-current="page">Suspended: sender not verified (1)' in only.content.decode()


def test_critical_suspended_mail_is_listed_first_and_marked(
    desk: Client, mail_setup: None
) -> None:
    with time_machine.travel(NIGHT, tick=False):
        _suspended("CRITICAL: site down")
    with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
        _suspended("Non-critical: a typo on the pricing page")
        _suspended("[Critical] ｌｏｇｉｎ")  # full-width letters fold (NFKC)
    with time_machine.travel(NIGHT + timedelta(hours=1), tick=False):
        _suspended("Criticality of our renewal")
    for show in ("attention", "suspended"):
        page = desk.get(reverse("mail:inbox"), {"show": show})
        assert _rows(page) == [
            "[Critical] ｌｏｇｉｎ",
            "CRITICAL: site down",
            "Criticality of our renewal",
            "Non-critical: a typo on the pricing page",
        ]
        assert page.content.decode().count('data-critical="true"') == 2
    everything = desk.get(reverse("mail:inbox"), {"show": "all"})
    assert _rows(everything)[0] == "Criticality of our renewal"  # "All mail": newest first


@pytest.mark.usefixtures("team")  # an on-call team to page
def test_releasing_a_critical_mail_after_hours_opens_the_case_pages_and_says_so(
    desk: Client, mail_setup: None, alice: Any, agent: Any
) -> None:
    with time_machine.travel(NIGHT, tick=False):
        message = _suspended("CRITICAL: site down")
    with time_machine.travel(NIGHT + timedelta(minutes=10), tick=False):
        answer = desk.post(reverse("mail:release", args=[message.pk]))
    case = Case.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("desk:case", args=[case.reference])
    assert case.priority.is_critical and case.events.filter(kind=EventKind.PAGED).exists()
    message.refresh_from_db()
    assert (message.state, message.case, message.released_by) == (State.CREATED, case, agent)
    with time_machine.travel(NIGHT + timedelta(minutes=11), tick=False):
        landed = desk.get(answer["Location"]).content.decode()
    assert (
        f"Released the mail from alice@acme.example: created {case.reference} Critical, "
        "on-call paged." in landed
    )


@pytest.mark.usefixtures("team")
def test_releasing_a_critical_mail_in_hours_says_nobody_was_paged(
    desk: Client, mail_setup: None, alice: Any
) -> None:
    with time_machine.travel(IN_HOURS, tick=False):
        message = _suspended("CRITICAL: site down")
        page = desk.post(reverse("mail:release", args=[message.pk]), follow=True)
    case = Case.objects.get()
    assert f"created {case.reference} Critical, in support hours: no page." in (
        page.content.decode()
    )
    assert not case.events.filter(kind=EventKind.PAGED).exists()


def test_releasing_mail_of_an_unknown_sender_leaves_it_held_and_says_so(
    desk: Client, mail_setup: None
) -> None:
    message = _suspended("Hello", sender="dana@elsewhere.example")
    page = desk.post(reverse("mail:release", args=[message.pk]), follow=True)
    assert page.redirect_chain[-1][0] == reverse("mail:message", args=[message.pk])
    assert "Released the mail from dana@elsewhere.example: held: unknown sender" in (
        page.content.decode()
    )
    message.refresh_from_db()
    assert message.state == State.HELD and not Case.objects.exists()


def test_release_is_a_post_with_a_csrf_token(desk: Client, mail_setup: None, agent: Any) -> None:
    message = _suspended("CRITICAL: site down")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    assert browser.post(reverse("mail:release", args=[message.pk])).status_code == 403
    assert desk.get(reverse("mail:release", args=[message.pk])).status_code == 405
    message.refresh_from_db()
    assert message.state == State.SUSPENDED and not Case.objects.exists()


def test_a_suspended_mail_can_be_dismissed_instead(desk: Client, mail_setup: None) -> None:
    message = _suspended("CRITICAL: site down")
    page = desk.get(reverse("mail:message", args=[message.pk])).content.decode()
    assert ">Release</button>" in page and reverse("mail:dismiss", args=[message.pk]) in page
    desk.post(reverse("mail:dismiss", args=[message.pk]), {"reason": "forged, Acme confirmed"})
    message.refresh_from_db()
    assert message.state == State.IGNORED and not Case.objects.exists()
    assert "Suspended: sender not verified (0)" in desk.get(reverse("mail:inbox")).content.decode()


def test_the_mail_list_takes_garbage_in_its_query_and_actions(
    desk: Client, mail_setup: None
) -> None:
    _suspended("CRITICAL: site down")
    for query in (
        {"show": "<script>alert(1)</script>", "page": "-1"},
        {"show": "suspended\x00", "page": "9" * 40},
        {"show": "", "page": "x"},
    ):
        page = desk.get(reverse("mail:inbox"), query)
        assert page.status_code == 200 and _rows(page) == ["CRITICAL: site down"]
        assert "<script>alert" not in page.content.decode()
    assert desk.post("/desk/mail/999999/release/").status_code == 404
    assert desk.post("/desk/mail/not-a-number/release/").status_code == 404


# ---- The message page's Sender panel ------------------------------------------------------


def _panel(desk: Client, message: InboundMessage) -> str:
    content = desk.get(reverse("mail:message", args=[message.pk])).content.decode()
    start = content.index('data-testid="mail-sender"')
    return content[start : content.index("</section>", start)]


def test_the_sender_panel_of_a_failed_check_says_why_from_where_and_which_server(
    desk: Client, mail_setup: None
) -> None:
    panel = _panel(desk, _suspended("CRITICAL: site down"))
    assert "sender-check-failed" in panel and ">failed verification</span>" in panel
    assert "acme.example publishes DMARC p=reject and this message fails it" in panel
    assert "spf=fail (acme.example) dkim=none dmarc=fail (p=reject); from DNS" in panel
    assert "our DNS lookups (SPF, DKIM, DMARC)" in panel
    assert "203.0.113.9" in panel and "mail.forger.example" in panel
    assert "may be forged" in panel


def test_the_sender_panel_names_the_trusted_mail_server_that_checked(
    desk: Client, mail_setup: None
) -> None:
    verdict = Verdict(
        from_domain="acme.example",
        dkim="pass",
        dkim_domain="acme.example",
        dkim_aligned=True,
        dmarc="pass",
        source="Authentication-Results of mx.example.com",
    )
    panel = _panel(desk, _suspended("Hello", verdict=verdict, client_ip="", helo=""))
    assert ">verified</span>" in panel and "DKIM passed for acme.example" in panel
    assert "the trusted mail server: Authentication-Results of mx.example.com" in panel
    assert "Sending server</dt><dd>unknown" in panel


def test_the_sender_panel_of_no_verdict_and_of_no_check(desk: Client, mail_setup: None) -> None:
    nothing = Verdict(from_domain="acme.example")
    panel = _panel(desk, _suspended("Hello", verdict=nothing))
    assert ">not verified</span>" in panel and "no SPF, DKIM or DMARC verdict" in panel
    unchecked = _suspended("Another")
    InboundMessage.objects.filter(pk=unchecked.pk).update(sender_check="", sender_detail="")
    panel = _panel(desk, unchecked)
    assert ">not checked</span>" in panel and "CASEDESK_MAIL_SENDER_POLICY is off" in panel
    assert "<span class=\"muted\">nobody</span>" in panel


def test_the_sender_panel_shows_a_garbage_detail_as_text(desk: Client, mail_setup: None) -> None:
    message = _suspended("Hello")
    garbage = "<script>alert(1)</script>\x01 (spf=\u202eliaf; from <b>evil</b>)" + "x" * 5000
    InboundMessage.objects.filter(pk=message.pk).update(sender_detail=garbage)
    panel = _panel(desk, message)
    assert "<script>" not in panel and "<b>evil</b>" not in panel
    assert "&lt;script&gt;" in panel
    listing = desk.get(reverse("mail:inbox")).content.decode()
    assert "<script>alert" not in listing and "&lt;script&gt;" in listing


# ---- "Sender not verified" on the case, its timeline and the queue; never in the portal --


def test_an_unverified_case_shows_the_badge_by_the_requester_and_what_to_do(
    desk: Client, deliver: Any, alice: Any
) -> None:
    outcome = deliver(build("CRITICAL: site down", "Call me."))
    Case.objects.filter(pk=outcome.case.pk).update(unverified_sender=True)
    page = desk.get(reverse("desk:case", args=[outcome.case.reference])).content.decode()
    assert 'data-testid="sender-not-verified"' in page and ">Sender not verified</span>" in page
    assert "Check with the requester before acting on a critical request" in page  # its title
    note = page[page.index('data-testid="unverified-sender-note"') :]
    note = note[: note.index("</p>")]
    assert "before acting on a critical request, check with the requester".lower() in note.lower()
    assert reverse("mail:message", args=[InboundMessage.objects.get().pk]) in note


def test_a_case_not_marked_shows_no_badge(desk: Client, open_case: Any, alice: Any) -> None:
    case = open_case(alice, "Critical", subject="Site down")  # the portal: a logged-in customer
    page = desk.get(reverse("desk:case", args=[case.reference])).content.decode()
    assert "not verified" not in page.lower()
    queue = desk.get(reverse("desk:queue")).content.decode()
    assert "not verified" not in queue.lower()


def test_an_unverified_reply_is_marked_on_the_timeline(
    desk: Client, deliver: Any, alice: Any, open_case: Any
) -> None:
    case = open_case(alice, subject="Printer on fire")
    reply = deliver(build(f"Re: [{case.reference}] Printer on fire", "Also the fax."))
    Event.objects.filter(pk=reply.event.pk).update(unverified_sender=True)
    page = desk.get(reverse("desk:case", args=[case.reference])).content.decode()
    entry = page[page.index(f'id="event-{reply.event.pk}"') :]
    entry = entry[: entry.index("</li>")]
    assert ">Sender not verified</span>" in entry
    assert 'data-testid="unverified-sender-note"' not in page  # the case itself is not marked


def test_the_queue_marks_an_unverified_case(
    desk: Client, deliver: Any, alice: Any, open_case: Any
) -> None:
    marked = deliver(build("CRITICAL: site down", "Call me.")).case
    plain = open_case(alice, subject="Printer on fire")  # the portal: never marked
    Case.objects.filter(pk=marked.pk).update(unverified_sender=True)
    queue = desk.get(reverse("desk:queue")).content.decode()
    row = queue[queue.index(f'data-reference="{marked.reference}"') :]
    assert 'data-testid="sender-not-verified"' in row[: row.index("</tr>")]
    other = queue[queue.index(f'data-reference="{plain.reference}"') :]
    assert "not verified" not in other[: other.index("</tr>")]


def test_the_customer_never_sees_that_their_sender_was_not_verified(
    client: Client, deliver: Any, alice: Any
) -> None:
    outcome = deliver(build("CRITICAL: site down", "Call me."))
    Case.objects.filter(pk=outcome.case.pk).update(unverified_sender=True)
    outcome.case.events.update(unverified_sender=True)
    client.force_login(alice)
    for url in (reverse("portal:home"), reverse("portal:case", args=[outcome.case.reference])):
        page = client.get(url)
        assert page.status_code == 200
        assert "verified" not in page.content.decode().lower()


def test_the_mail_list_costs_the_same_queries_for_5_or_80_suspended_messages(
    desk: Client, mail_setup: None
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert desk.get(reverse("mail:inbox")).status_code == 200
        return len(seen)

    for n in range(5):
        _suspended(f"CRITICAL: site down {n}")
    few = queries()
    for n in range(75):
        _suspended(f"Question {n}" if n % 2 else f"[Critical] outage {n}")
    assert queries() == few
