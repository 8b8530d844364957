"""Case files are downloads, typed by us and sandboxed, for people who may see the case."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db


def url(case, attachment) -> str:
    return f"/cases/{case.reference}/files/{attachment.pk}/{attachment.name}"


def test_a_file_downloads_as_an_attachment_that_cannot_run_as_a_page(client, alice, open_case):
    case = open_case(alice, "Low", attachments=[SimpleUploadedFile("trace.log", b"boom\n")])
    attachment = case.attachments.get()
    client.force_login(alice)
    response = client.get(url(case, attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"boom\n"
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="trace.log"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_anonymous_visitors_are_sent_to_log_in(client, alice, open_case):
    case = open_case(alice, "Low", attachments=[SimpleUploadedFile("a.txt", b"a")])
    response = client.get(url(case, case.attachments.get()))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_name_in_the_url_does_not_choose_the_file(client, alice, bob, open_case):
    mine = open_case(alice, "Low", attachments=[SimpleUploadedFile("a.txt", b"a")])
    theirs = open_case(bob, "Low", attachments=[SimpleUploadedFile("b.txt", b"b")])
    client.force_login(alice)
    other = theirs.attachments.get()
    assert client.get(f"/cases/{mine.reference}/files/{other.pk}/b.txt").status_code == 404
    assert client.get(url(theirs, other)).status_code == 404
