"""Every page goes out, once, when PostgreSQL is refused under the real worker.

The real `casedesk worker` reaches PostgreSQL through a TCP proxy the test owns; the
Twilio stand-in runs in this process. A page goes out, the database is refused (every
open connection cut), a second critical case is opened while the worker cannot reach
the database, the database comes back: the second page goes out without a restart, and
neither page is sent twice. Skipped on SQLite (the proxy is a TCP one).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from casedesk.core.tests.waiting import wait_until
from casedesk.core.tests.workerproc import (
    proxy_to_test_database,
    start_worker,
    stop_worker,
)

from .conftest import PAT_PHONE

pytestmark = pytest.mark.django_db(transaction=True)
REFERENCE = re.compile(r"\b(CD-\d+)\b")


@pytest.fixture
def proxy():
    with proxy_to_test_database() as fault:
        yield fault


def pages_to_pat(standin) -> list[str]:
    return [
        match.group(1)
        for r in standin.sent("Messages")
        if r.form["To"] == PAT_PHONE and (match := REFERENCE.search(r.form["Body"]))
    ]


def test_every_page_goes_out_once_through_a_refused_database(
    proxy, sms_only, alice, bob, open_case, standin, settings, tmp_path: Path
):
    from casedesk.hours.models import Calendar

    Calendar.objects.create(name="closed", title="Never open", time_zone="America/Chicago")
    settings.CASEDESK_DEFAULT_CALENDAR = "closed"
    worker = start_worker(
        tmp_path,
        port=proxy.port,
        EMAIL_URL="locmem:",
        CASEDESK_DEFAULT_CALENDAR="closed",
        CASEDESK_BASE_URL=settings.BASE_URL,
        TWILIO_ACCOUNT_SID=standin.account_sid,
        TWILIO_AUTH_TOKEN=standin.auth_token,
        TWILIO_FROM_NUMBER=settings.TWILIO_FROM_NUMBER,
        TWILIO_API_BASE=standin.base_url,
    )
    try:
        first = open_case(alice, "Critical", subject="Acme is down")
        wait_until(lambda: first.reference in pages_to_pat(standin), 60, "the first page")
        proxy.refuse()
        second = open_case(bob, "Critical", subject="Globex is down")  # the worker is cut off
        accepted = proxy.accepted
        wait_until(lambda: proxy.accepted >= accepted + 3, 30, "the worker to knock again")
        assert second.reference not in pages_to_pat(standin)
        proxy.heal()
        wait_until(lambda: second.reference in pages_to_pat(standin), 60, "the second page")
    finally:
        stop_worker(worker)
    assert sorted(pages_to_pat(standin)) == sorted([first.reference, second.reference])
