"""Seeded cases look like cases the services made: SLA fields, pauses, tenants, timelines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from casedesk.accounts.models import Organization, User
from casedesk.cases import services, sla
from casedesk.cases.models import (
    DONE_STATUSES,
    Case,
    Event,
    EventKind,
    Pause,
    Status,
)
from casedesk.cases.seeding import SeedError, SeedPlan, seed_cases
from casedesk.core.demo import DEMO_CASES, load_demo

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday, support open


@pytest.fixture
def seeded(alice, bob, agent, priorities, calendars):
    result = seed_cases(SeedPlan(cases=400, seed=7, now=NOW, progress=False))
    return result


def test_seeding_makes_n_cases_in_every_status(seeded):
    assert seeded.cases == Case.objects.count() == 400
    assert set(Case.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Case.objects.values_list("priority__name", flat=True)) == {
        "Critical",
        "High",
        "Medium",
        "Low",
    }
    critical = Case.objects.filter(priority__is_critical=True)
    assert critical.count() < Case.objects.filter(priority__name="Medium").count()
    assert all(c.characteristics for c in critical)


def test_next_due_is_none_exactly_where_no_clock_runs(seeded):
    for case in Case.objects.select_related("priority"):
        # No clock runs on a resolved or closed case, nor on an answered one that waits
        # on the customer (its resolution clock is paused): services.next_due's rule.
        stopped = case.status in DONE_STATUSES or (
            case.first_responded_at is not None and case.resolution_due is None
        )
        assert (case.next_due is None) == stopped, case.reference
        assert case.next_due == services.next_due(case)
        if case.status in DONE_STATUSES:
            assert case.resolved_at is not None
        assert (case.closed_at is not None) == (case.status == Status.CLOSED)


def test_deadlines_are_what_the_sla_module_computes(seeded):
    for case in Case.objects.select_related("priority").prefetch_related("pauses"):
        deadlines = sla.deadlines(case, sla.pauses_of(case))
        assert case.first_response_due == deadlines.first_response_due
        assert case.resolution_due == deadlines.resolution_due
        assert case.opened_after_hours == (not sla.is_support_open(case.opened_at))


def test_pending_and_resolved_cases_are_paused_with_an_open_pause(seeded):
    for case in Case.objects.all():
        open_pauses = list(Pause.objects.filter(case=case, ended_at__isnull=True))
        if case.status == Status.PENDING:
            assert case.paused_since is not None
            assert [(p.kind, p.started_at) for p in open_pauses] == [
                (Status.PENDING, case.paused_since)
            ]
        elif case.status in (Status.RESOLVED, Status.CLOSED):
            assert case.paused_since is None
            assert [(p.kind, p.started_at) for p in open_pauses] == [
                (Status.RESOLVED, case.resolved_at)
            ]
        else:
            assert case.paused_since is None
            assert open_pauses == []
    assert Pause.objects.filter(ended_at__isnull=False).exists()


def test_first_response_breached_only_where_the_due_passed_unanswered(seeded):
    breached = 0
    for case in Case.objects.all():
        answered_or_over = case.first_responded_at or case.resolved_at or NOW
        assert case.first_response_breached == (case.first_response_due < answered_or_over)
        if case.first_response_breached:
            breached += 1
            assert case.events.filter(kind=EventKind.SLA_BREACH, new_value="first_response")
        if case.resolution_breached:
            assert case.resolution_due is not None
            assert case.resolution_due < (case.resolved_at or NOW)
    assert 0 < breached < Case.objects.count()
    new_cases = Case.objects.filter(status=Status.NEW)
    assert not new_cases.filter(first_responded_at__isnull=False).exists()
    answered = Case.objects.exclude(status=Status.NEW).filter(first_responded_at__isnull=False)
    assert answered.count() > 0.9 * Case.objects.exclude(status=Status.NEW).count()


def test_every_case_belongs_to_its_requesters_organization(seeded):
    for case in Case.objects.select_related("requester"):
        assert case.requester.is_customer
        assert case.requester.organization_id == case.organization_id
    assert Case.objects.values("organization").distinct().count() == 2


def test_timelines_start_with_opened_and_run_in_time_order(seeded):
    for case in Case.objects.prefetch_related("events"):
        events = [e for e in case.events.all() if e.kind != EventKind.SLA_BREACH]
        assert events[0].kind == EventKind.OPENED
        assert events[0].at == case.opened_at
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert all(e.at <= NOW for e in case.events.all())
        statuses = [e for e in events if e.kind == EventKind.STATUS]
        if case.status != Status.NEW:
            assert statuses[-1].new_value == case.status
    assert Event.objects.filter(kind=EventKind.NOTE, public=False).exists()


def test_extra_organizations_get_a_customer_and_cases(alice, agent, priorities, calendars):
    result = seed_cases(SeedPlan(cases=60, new_organizations=3, now=NOW, progress=False))
    assert len(result.organizations) == 3
    for name in result.organizations:
        organization = Organization.objects.get(name=name)
        assert User.objects.filter(organization=organization, role="customer").count() == 1
        assert Case.objects.filter(organization=organization).exists()


def test_seeding_needs_an_organization_with_a_customer(priorities, calendars):
    with pytest.raises(SeedError):
        seed_cases(SeedPlan(cases=10, progress=False))


def test_the_command_seeds_and_reports(alice, agent, priorities, calendars, capsys, settings):
    settings.DEBUG = True  # the test runner turns it off; casedesk's default is on
    call_command("cases", "seed", "25", "--organizations", "1", "--seed", "3", verbosity=0)
    assert Case.objects.count() == 25
    assert "seeded 25 cases" in capsys.readouterr().out


def test_the_command_refuses_production_mode(alice, priorities, calendars, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="production mode"):
        call_command("cases", "seed", "5", verbosity=0)
    assert not Case.objects.exists()


def test_demo_seeds_cases_in_every_state_for_both_organizations_once(calendars):
    load_demo()
    assert Case.objects.count() == DEMO_CASES
    for name in ("Acme", "Globex"):
        statuses = set(
            Case.objects.filter(organization__name=name).values_list("status", flat=True)
        )
        assert statuses == set(Status.values), name
    requesters = set(Case.objects.values_list("requester__email", flat=True))
    assert requesters == {"alice@acme.example", "bob@globex.example"}
    assert load_demo() == []
    assert Case.objects.count() == DEMO_CASES


def test_a_seeded_resolved_case_reopened_now_is_not_instantly_overdue(seeded, agent):
    from django.utils import timezone

    from casedesk.cases import services

    reopened = 0
    for case in Case.objects.filter(status=Status.RESOLVED, resolution_breached=False)[:10]:
        services.add_reply(case, case.requester, "It came back.")
        case.refresh_from_db()
        assert case.status == Status.OPEN
        if case.resolution_due is not None:
            assert case.resolution_due > timezone.now()
        reopened += 1
    assert reopened


def test_the_demo_has_an_after_hours_critical_case_for_each_organization(seeded):
    for organization in {c.organization_id for c in Case.objects.all()}:
        assert Case.objects.filter(organization=organization, after_hours_alarm=True).exists()
