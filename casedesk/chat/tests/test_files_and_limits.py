"""Files in a chat pass the case files' checks; per-person rate limits hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casedesk.cases.tests.test_attachment_checks import HARMLESS, HOSTILE
from casedesk.chat import services
from casedesk.chat.models import ChatMessage, MessageKind
from casedesk.chat.tests.conftest import logged_in
from casedesk.lib.env import Rate

pytestmark = pytest.mark.usefixtures("chat_db", "support_open")


def test_a_log_file_is_stored_and_only_the_chats_people_can_download_it(
    chat: Any, alice: Any, bob: Any, on_duty: Any
) -> None:
    upload = SimpleUploadedFile("server.log", b"ERROR 502 upstream\n", content_type="image/png")
    answer = logged_in(alice).post(f"/chat/{chat.pk}/file", {"file": upload}).json()
    message = ChatMessage.objects.get(pk=answer["message"]["id"])
    assert message.kind == MessageKind.FILE and message.file_name == "server.log"
    url = answer["message"]["url"]
    download: Any = logged_in(on_duty).get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"ERROR 502 upstream\n"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert logged_in(bob).get(url).status_code == 404


def test_a_chat_file_downloads_exactly_as_a_case_file_does(
    chat: Any, alice: Any, open_case: Any
) -> None:
    """One download for every attachment: same type, disposition, sandbox and caching."""
    answer = logged_in(alice).post(
        f"/chat/{chat.pk}/file", {"file": SimpleUploadedFile("trace.xml", b"<r>ok</r>")}
    )
    from_chat: Any = logged_in(alice).get(answer.json()["message"]["url"])
    case = open_case(alice, "Low", attachments=[SimpleUploadedFile("trace.xml", b"<r>ok</r>")])
    attachment = case.attachments.get()
    from_case: Any = logged_in(alice).get(
        f"/cases/{case.reference}/files/{attachment.pk}/{attachment.name}"
    )
    for response in (from_chat, from_case):
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"<r>ok</r>"
    headers = (
        "Content-Type",
        "Content-Disposition",
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Cache-Control",
    )
    assert {h: from_chat[h] for h in headers} == {h: from_case[h] for h in headers}
    assert from_chat["Content-Disposition"] == 'attachment; filename="trace.xml"'
    assert from_chat["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert from_chat["X-Content-Type-Options"] == "nosniff"


def test_a_chat_file_is_fetched_only_by_its_chats_people(
    chat: Any, alice: Any, bob: Any, acme: Any, on_duty: Any
) -> None:
    """Another organization's customer, a colleague of the same organization (a chat is
    private to its customer) and a chat of one's own named in the URL all get a 404."""
    from casedesk.accounts.models import User
    from conftest import PASSWORD

    url = (
        logged_in(alice)
        .post(f"/chat/{chat.pk}/file", {"file": SimpleUploadedFile("a.log", b"secret")})
        .json()["message"]["url"]
    )
    message = url.rstrip("/").rpartition("/")[2]
    carol = User.objects.create_user(
        "carol@acme.example", PASSWORD, role="customer", organization=acme, full_name="Carol"
    )
    for outsider in (bob, carol):
        own = services.start(outsider)
        assert logged_in(outsider).get(url).status_code == 404
        assert logged_in(outsider).get(f"/chat/{own.pk}/files/{message}").status_code == 404
        services.end(own, outsider)
    assert logged_in(on_duty).get(url).status_code == 200


@pytest.mark.parametrize("name", ["../../../etc/cron.d/job.log", "..\\..\\boot.ini.txt"])
def test_a_chat_file_is_stored_under_a_random_name_with_the_clean_one_kept(
    chat: Any, alice: Any, settings: Any, name: str
) -> None:
    answer = logged_in(alice).post(
        f"/chat/{chat.pk}/file", {"file": SimpleUploadedFile(name, b"x")}
    )
    message = ChatMessage.objects.get(pk=answer.json()["message"]["id"])
    assert message.file_name in ("job.log", "boot.ini.txt")
    assert message.file_name not in message.file.name
    assert message.file.path.startswith(str(settings.MEDIA_ROOT / "chat" / str(chat.pk)))


def test_a_huge_name_is_cut_for_a_chat_file_too(chat: Any, alice: Any) -> None:
    upload = SimpleUploadedFile("b" * 10_000 + ".log", b"x")
    answer = logged_in(alice).post(f"/chat/{chat.pk}/file", {"file": upload})
    assert answer.status_code == 200
    name = ChatMessage.objects.get(pk=answer.json()["message"]["id"]).file_name
    assert len(name) == 150 and name.endswith("b.log")


# Django's form parser drops a file whose name has nothing printable ("Choose one file.").
SENDABLE = [h for h in HOSTILE if h[0].isprintable()]


@pytest.mark.parametrize(
    ("name", "content", "declared", "why"), SENDABLE, ids=[f"{h[0]}-{h[3]}" for h in SENDABLE]
)
def test_a_hostile_or_mislabelled_file_is_refused_in_chat_as_on_a_case(
    chat: Any, alice: Any, name: str, content: bytes, declared: str, why: str
) -> None:
    upload = SimpleUploadedFile(name, content, content_type=declared)
    answer = logged_in(alice).post(f"/chat/{chat.pk}/file", {"file": upload})
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert not ChatMessage.objects.filter(kind=MessageKind.FILE).exists()


@pytest.mark.parametrize(("name", "content", "declared"), HARMLESS, ids=[h[0] for h in HARMLESS])
def test_ordinary_files_are_accepted_in_chat(
    chat: Any, alice: Any, settings: Any, name: str, content: bytes, declared: str
) -> None:
    settings.RATE_CHAT_FILES = Rate(100, timedelta(minutes=1))
    upload = SimpleUploadedFile(name, content, content_type=declared)
    answer = logged_in(alice).post(f"/chat/{chat.pk}/file", {"file": upload})
    assert answer.status_code == 200, answer.json()
    download: Any = logged_in(alice).get(answer.json()["message"]["url"])
    assert b"".join(download.streaming_content) == content


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("page.html", b"<p>hi</p>", "not accepted"),
        ("notes.txt", b"<script>alert(1)</script>", "web page or script"),
        ("empty.log", b"", "empty"),
        ("tool.exe", b"MZ\x90\x00", "not accepted"),
    ],
)
def test_files_the_case_rules_refuse_are_refused_in_chat_too(
    chat: Any, alice: Any, name: str, content: bytes, why: str
) -> None:
    answer = logged_in(alice).post(
        f"/chat/{chat.pk}/file", {"file": SimpleUploadedFile(name, content)}
    )
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert not ChatMessage.objects.filter(kind=MessageKind.FILE).exists()


def test_a_file_request_without_exactly_one_file_is_refused(chat: Any, alice: Any) -> None:
    client = logged_in(alice)
    assert client.post(f"/chat/{chat.pk}/file", {"file": "just text"}).status_code == 400
    two = [SimpleUploadedFile("a.log", b"a"), SimpleUploadedFile("b.log", b"b")]
    assert client.post(f"/chat/{chat.pk}/file", {"file": two}).status_code == 400


def test_messages_past_the_per_person_limit_are_refused(
    chat: Any, alice: Any, on_duty: Any, settings: Any
) -> None:

    settings.RATE_CHAT_MESSAGES = Rate(3, timedelta(minutes=1))
    for n in range(3):
        services.post(chat, alice, f"message {n}")
    with pytest.raises(services.ChatError, match="Too many messages"):
        services.post(chat, alice, "one too many")
    services.post(chat, on_duty, "The agent has their own count.")
    assert ChatMessage.objects.filter(kind="text").count() == 4


def test_new_chats_past_the_per_person_limit_are_refused(
    on_duty: Any, alice: Any, settings: Any
) -> None:

    settings.RATE_CHAT_STARTS = Rate(2, timedelta(hours=1))
    for _ in range(2):
        services.end(services.start(alice), alice)
    answer = logged_in(alice).post("/chat/start")
    assert answer.status_code == 409 and "Too many new chats" in answer.json()["error"]


def test_an_open_chat_is_resumed_not_started_again(on_duty: Any, alice: Any) -> None:
    first = logged_in(alice).post("/chat/start").json()["session"]["id"]
    assert logged_in(alice).post("/chat/start").json()["session"]["id"] == first
    page = logged_in(alice).get("/chat/widget/").content.decode()
    assert f'data-session="{first}"' in page


def test_messages_left_past_the_per_person_limit_are_refused(
    alice: Any, acme: Any, settings: Any
) -> None:

    from casedesk.accounts.models import User
    from casedesk.cases.models import Case
    from conftest import PASSWORD

    settings.RATE_CHAT_LEAVES = Rate(2, timedelta(hours=1))
    client = logged_in(alice)
    # A form with a mistake opens no case and does not count.
    assert client.post("/chat/leave", {"subject": "", "body": "x"}).status_code == 400
    for n in range(2):
        form = {"subject": f"Question {n}", "body": "Which VAT rate applies?"}
        assert client.post("/chat/leave", form).status_code == 200
    refused = client.post("/chat/leave", {"subject": "Once more", "body": "again"})
    assert refused.status_code == 400 and "Too many messages left" in refused.json()["error"]
    assert Case.objects.filter(requester=alice).count() == 2
    # The count is per person: a colleague still can.
    carol = User.objects.create_user(
        "carol@acme.example", PASSWORD, role="customer", organization=acme, full_name="Carol"
    )
    form = {"subject": "My question", "body": "Hello"}
    assert logged_in(carol).post("/chat/leave", form).status_code == 200
