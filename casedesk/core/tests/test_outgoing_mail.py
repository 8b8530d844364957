"""What every mail casedesk sends carries: a Message-ID in the support mail domain."""

from __future__ import annotations

import pytest
from django.core import mail

from casedesk.core.mail import mail_each_admin, send_templated, thread_message_id

pytestmark = pytest.mark.django_db


def test_a_mail_about_no_case_has_a_message_id_in_the_support_mail_domain(admin, settings):
    settings.MAIL_DOMAIN = "support.example.com"
    assert mail_each_admin("core/email/critical_waiting", {"seconds": 700}, "test") == 1
    message_id = mail.outbox[0].extra_headers["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith("@support.example.com>")
    assert "localhost" not in mail.outbox[0].message()["Message-ID"]


def test_each_mail_gets_its_own_message_id(admin):
    for _ in range(2):
        send_templated("core/email/critical_waiting", {"seconds": 700}, [admin.email])
    first, second = (m.extra_headers["Message-ID"] for m in mail.outbox)
    assert first != second


def test_a_message_id_given_by_the_caller_is_kept(admin):
    threaded = thread_message_id("CD-1042")
    send_templated(
        "core/email/critical_waiting",
        {"seconds": 700},
        [admin.email],
        headers={"message-id": threaded},
    )
    assert mail.outbox[0].message()["Message-ID"] == threaded
