"""The portal never shows one organization's cases, notes or files to another, or to anyone
logged out; and no garbage a browser can send opens a case or breaks a page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casedesk.accounts.models import User
from casedesk.cases import services
from casedesk.cases.models import Case, Event
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def upload(name: str = "error.log", content: bytes = b"Traceback: boom\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


@pytest.fixture
def alices_case(open_case, alice):
    return open_case(
        alice, "High", subject="Invoices export fails", attachments=[upload("export.log")]
    )


@pytest.fixture
def carol(acme):
    """Alice's colleague at Acme."""
    return User.objects.create_user(
        "carol@acme.example", PASSWORD, role="customer", organization=acme, full_name="Carol Acme"
    )


def log_in(client, person):
    # force_login: django-axes wants a request in authenticate(), which client.login has not.
    client.force_login(person)
    return client


def file_url(case: Case) -> str:
    attachment = case.attachments.get()
    return reverse("case_file", args=[case.reference, attachment.pk, attachment.name])


def get_urls(case: Case) -> dict[str, str]:
    return {
        "case page": reverse("portal:case", args=[case.reference]),
        "opened page": reverse("portal:opened", args=[case.reference]),
        "file download": file_url(case),
    }


# ---- Another organization: 404, never 403 --------------------------------------------


@pytest.mark.parametrize("page", ["case page", "opened page", "file download"])
def test_bob_gets_404_for_alices_case(client, bob, alices_case, page):
    response = log_in(client, bob).get(get_urls(alices_case)[page])
    assert response.status_code == 404
    assert b"Invoices export fails" not in response.content


def test_bobs_404_is_the_same_page_as_for_a_case_that_does_not_exist(client, bob, alices_case):
    log_in(client, bob)
    theirs = client.get(reverse("portal:case", args=[alices_case.reference]))
    missing = client.get(reverse("portal:case", args=["CD-999999"]))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content.replace(
        alices_case.reference.encode(), b"REF"
    ) == missing.content.replace(b"CD-999999", b"REF")


def test_bob_gets_404_replying_to_alices_case_and_nothing_is_added(client, bob, alices_case):
    before = Event.objects.count()
    response = log_in(client, bob).post(
        reverse("portal:reply", args=[alices_case.reference]), {"body": "I am in"}
    )
    assert response.status_code == 404
    assert Event.objects.count() == before


def test_bobs_list_never_shows_acmes_cases(client, bob, alices_case, open_case):
    open_case(bob, "Low", subject="Globex question")
    for status in ("open", "done", "all"):
        html = log_in(client, bob).get(reverse("portal:home"), {"status": status}).content.decode()
        assert alices_case.reference not in html
        assert "Invoices export fails" not in html
    assert "Globex question" in client.get(reverse("portal:home")).content.decode()


def test_alices_list_never_shows_globex_cases(client, alice, bob, alices_case, open_case):
    globex_case = open_case(bob, "Critical", subject="Globex is down")
    html = log_in(client, alice).get(reverse("portal:home"), {"status": "all"}).content.decode()
    assert "Invoices export fails" in html
    assert "Globex is down" not in html and globex_case.reference not in html


# ---- Logged out: to the log-in page, and back after ------------------------------------


@pytest.mark.parametrize("page", ["case page", "opened page", "file download"])
def test_anonymous_visitors_are_sent_to_log_in_for_a_case(client, alices_case, page):
    url = get_urls(alices_case)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", ["portal:home", "portal:new"])
def test_anonymous_visitors_are_sent_to_log_in_for_the_list_and_the_form(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse(name)}"


def test_an_anonymous_reply_is_sent_to_log_in_and_nothing_is_added(client, alices_case):
    before = Event.objects.count()
    response = client.post(reverse("portal:reply", args=[alices_case.reference]), {"body": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Event.objects.count() == before


def test_an_anonymous_new_case_is_sent_to_log_in_and_nothing_is_opened(client, priorities):
    response = client.post(
        reverse("portal:new"), {"subject": "x", "priority": priorities["Low"].pk}
    )
    assert response.status_code == 302
    assert not Case.objects.exists()


# ---- Colleagues at the same organization share cases ----------------------------------


def test_alice_sees_her_colleagues_case_its_file_and_can_reply(client, alice, carol, open_case):
    carols = open_case(carol, "Medium", subject="Carol reports a bug", attachments=[upload()])
    log_in(client, alice)
    assert "Carol reports a bug" in client.get(reverse("portal:home")).content.decode()
    page = client.get(reverse("portal:case", args=[carols.reference]))
    assert page.status_code == 200 and "Carol Acme" in page.content.decode()
    assert client.get(reverse("portal:opened", args=[carols.reference])).status_code == 200
    download = client.get(file_url(carols))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"Traceback: boom\n"
    reply = client.post(reverse("portal:reply", args=[carols.reference]), {"body": "Same here"})
    assert reply.status_code == 302
    assert carols.events.filter(author=alice, body="Same here", public=True).exists()


# ---- Internal notes and internal files stay internal ------------------------------------


def test_internal_notes_and_their_files_never_reach_the_customer(client, alice, agent, alices_case):
    services.add_note(
        alices_case,
        agent,
        "Customer is on the legacy cluster, do not tell them",
        attachments=[upload("internal-dump.txt", b"secret dump")],
    )
    services.attach(alices_case, [upload("ops-only.log", b"ops")], agent, public=False)
    services.add_reply(alices_case, agent, "We are looking into it.")
    html = log_in(client, alice).get(reverse("portal:case", args=[alices_case.reference]))
    text = html.content.decode()
    assert "We are looking into it." in text
    assert "legacy cluster" not in text
    assert "internal-dump.txt" not in text and "ops-only.log" not in text
    for hidden in alices_case.attachments.filter(public=False):
        url = reverse("case_file", args=[alices_case.reference, hidden.pk, hidden.name])
        assert client.get(url).status_code == 404


def test_after_hours_alarm_and_assignment_events_are_not_shown_to_customers(
    client, alice, agent, open_case
):
    with time_machine.travel(datetime(2026, 11, 28, 15, 0, tzinfo=UTC), tick=False):
        case = open_case(alice, "Critical", subject="Down on Saturday")
        services.assign(case, agent, agent)
        text = log_in(client, alice).get(reverse("portal:case", args=[case.reference])).content
    assert b"on-call engineer must respond" not in text
    assert agent.email.encode() not in text


# ---- Garbage in: a clear message, never a crash, never a case ---------------------------


@pytest.mark.parametrize(
    "reference",
    ["CD-abc", "%00", "CD-99999999999999999999", "999999999999", "CD-0", "-1", "CD-1001x"],
)
def test_bad_references_get_a_clear_404_page(client, alice, alices_case, reference):
    log_in(client, alice)
    for name in ("portal:case", "portal:opened"):
        response = client.get(
            f"/portal/cases/{reference}/" + ("opened/" if "opened" in name else "")
        )
        assert response.status_code == 404
        assert b"Case not found" in response.content
    response = client.post(f"/portal/cases/{reference}/reply/", {"body": "hello"})
    assert response.status_code == 404
    assert alices_case.events.count() == 1


@pytest.mark.parametrize("priority", ["999999", "abc", "-1", "1 OR 1=1", ""])
def test_an_unknown_priority_is_refused_with_a_message(client, alice, priorities, priority):
    response = log_in(client, alice).post(
        reverse("portal:new"), {"subject": "Broken", "priority": priority}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Choose one of the priorities listed." in text or "Choose a priority." in text
    assert 'value="Broken"' in text  # the input is kept
    assert not Case.objects.exists()


def test_a_blank_form_says_what_is_missing_and_opens_nothing(client, alice, priorities):
    response = log_in(client, alice).post(reverse("portal:new"), {})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Choose a priority." in text
    assert not Case.objects.exists()


def test_a_blank_subject_gets_the_services_message(client, alice, priorities):
    response = log_in(client, alice).post(
        reverse("portal:new"), {"subject": "   ", "priority": priorities["Low"].pk}
    )
    assert response.status_code == 400
    assert "Say in a few words what is wrong." in response.content.decode()
    assert not Case.objects.exists()


def test_an_oversized_attachment_is_refused_and_no_case_is_opened(
    client, alice, priorities, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 100
    response = log_in(client, alice).post(
        reverse("portal:new"),
        {
            "subject": "Big log",
            "priority": priorities["Low"].pk,
            "attachments": [upload("huge.log", b"x" * 101)],
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "huge.log is 101" in text and "files may be at most 100" in text
    assert "choose your files again" in text
    assert not Case.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"<html><script>alert(1)</script></html>", "contains a web page or script"),
        ("page.html", b"hello", "this type of file is not accepted"),
        ("logo.svg", b"<svg onload=alert(1)>", "this type of file is not accepted"),
        ("empty.log", b"", "is empty"),
    ],
)
def test_html_and_unsafe_attachments_are_refused_and_no_case_is_opened(
    client, alice, priorities, settings, tmp_path, name, content, message
):
    settings.MEDIA_ROOT = tmp_path
    response = log_in(client, alice).post(
        reverse("portal:new"),
        {
            "subject": "A file",
            "priority": priorities["Low"].pk,
            "attachments": [upload(name, content)],
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Case.objects.exists()


def test_an_html_attachment_on_a_reply_is_refused_and_nothing_is_added(client, alice, alices_case):
    before = alices_case.events.count()
    response = log_in(client, alice).post(
        reverse("portal:reply", args=[alices_case.reference]),
        {"body": "see file", "attachments": [upload("x.txt", b"<!DOCTYPE html><p>hi")]},
    )
    assert response.status_code == 400
    assert "contains a web page or script" in response.content.decode()
    assert alices_case.events.count() == before


def test_unknown_critical_characteristics_are_refused(client, alice, priorities):
    response = log_in(client, alice).post(
        reverse("portal:new"),
        {
            "subject": "Down",
            "priority": priorities["Critical"].pk,
            "characteristics": ["z"],
            "business_impact": "All down",
        },
    )
    assert response.status_code == 400
    assert "Choose from (a), (b) and (c) only." in response.content.decode()
    assert not Case.objects.exists()


def test_a_page_number_that_is_not_a_number_shows_the_first_page(client, alice, alices_case):
    response = log_in(client, alice).get(reverse("portal:home"), {"page": "abc", "status": "<x>"})
    assert response.status_code == 200
    assert alices_case.reference in response.content.decode()


def test_cases_visible_to_a_customer_are_their_organizations_only(open_case, alice, bob, agent):
    from django.contrib.auth.models import AnonymousUser

    from casedesk.cases.access import cases_visible_to

    mine = open_case(alice, "Low")
    theirs = open_case(bob, "Low")
    assert list(cases_visible_to(alice)) == [mine]
    assert set(cases_visible_to(agent)) == {mine, theirs}
    assert not cases_visible_to(AnonymousUser()).exists()
    alice.is_active = False
    assert not cases_visible_to(alice).exists()
