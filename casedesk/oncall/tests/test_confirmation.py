"""The customer's confirmation says the on-call engineer was paged, only when one was."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.template.loader import render_to_string

from casedesk.cases.presenters import acknowledgement
from casedesk.oncall import services

CT = ZoneInfo("America/Chicago")
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
PAGED = "on-call engineer has been paged"


def test_a_paged_case_says_so_on_the_page_and_in_the_mail(team, alice, open_case, standin):
    with time_machine.travel(NIGHT, tick=False):
        case = open_case(alice, "Critical")  # paged in the case's own transaction
        ack = acknowledgement(case, CT)
    assert ack.paged
    assert PAGED in render_to_string("cases/_acknowledgement.txt", {"ack": ack})
    assert PAGED in render_to_string("cases/_acknowledgement.html", {"ack": ack})


def test_a_case_opened_in_hours_says_nothing_of_a_page(team, alice, open_case):
    with time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=CT), tick=False):
        case = open_case(alice, "Critical")
        ack = acknowledgement(case, CT)
    assert not ack.paged
    assert PAGED not in render_to_string("cases/_acknowledgement.txt", {"ack": ack})


def test_an_organization_without_coverage_is_not_told_of_a_page(team, alice, open_case):
    alice.organization.after_hours_coverage = False
    alice.organization.save()
    with time_machine.travel(NIGHT, tick=False):
        case = open_case(alice, "Critical")
        assert services.page(case) is None
        ack = acknowledgement(case, CT)
    assert not ack.paged
    assert acknowledgement(case, CT, paged=True).paged  # callers may say so themselves
