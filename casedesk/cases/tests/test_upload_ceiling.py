"""One request cannot upload more than a reply may carry: it is refused as Django parses it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casedesk.cases.models import Attachment

pytestmark = pytest.mark.django_db


def test_an_upload_past_the_ceiling_is_stopped_and_nothing_is_stored(
    client, alice, open_case, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    case = open_case(alice, "Low")
    client.force_login(alice)
    response = client.post(
        reverse("portal:reply", args=[case.reference]),
        {"body": "logs", "attachments": [SimpleUploadedFile("big.log", b"x" * 5000)]},
    )
    assert response.status_code == 400
    assert not Attachment.objects.exists()
    assert case.events.count() == 1  # no reply was posted without its file


def test_uploads_under_the_ceiling_pass_through_to_the_rules(client, alice, open_case, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENT_MAX_FILES = 2
    case = open_case(alice, "Low")
    client.force_login(alice)
    response = client.post(
        reverse("portal:reply", args=[case.reference]),
        {"body": "log", "attachments": [SimpleUploadedFile("small.log", b"x" * 900)]},
    )
    assert response.status_code == 302
    assert Attachment.objects.get().size == 900
