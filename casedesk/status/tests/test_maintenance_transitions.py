"""Scheduled maintenance starts, completes and reminds by itself, at the window's edges.

The edges are tasks scheduled for their instant and run by the real worker under
a frozen clock; the sweep is the safety net for a lost task.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from casedesk.status import services, tasks
from casedesk.status.models import Component, Incident, Subscriber

CT = ZoneInfo("America/Chicago")
CREATED = datetime(2026, 11, 30, 9, 0, tzinfo=CT)
FOR = datetime(2026, 12, 1, 22, 0, tzinfo=CT)
UNTIL = datetime(2026, 12, 1, 23, 30, tzinfo=CT)


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


@pytest.fixture
def subscriber(components, run_tasks):
    person = Subscriber.objects.create(email="ops@acme.example", confirmed_at=CREATED)
    return person


@pytest.fixture
def window(components, agent, run_tasks, subscriber, mailoutbox):
    with at(CREATED):
        made = services.create_maintenance(
            services.NewMaintenance(
                "Database upgrade", "Upgrading the database.", [components["api"]], FOR, UNTIL
            ),
            agent,
        )
        run_tasks()
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Scheduled maintenance: Database upgrade"
    ]
    mailoutbox.clear()
    return made


def status_of(made):
    made.refresh_from_db()
    return made.status


def test_scheduling_makes_one_task_per_edge(window):
    pending = DBTaskResult.objects.filter(
        task_path="casedesk.status.tasks.maintenance_edge", status="READY"
    )
    edges = sorted((r.args_kwargs["args"][1], r.run_after) for r in pending)
    assert edges == sorted(
        [("remind", FOR - timedelta(hours=1)), ("start", FOR), ("complete", UNTIL)]
    )


def test_subscribers_are_reminded_60_minutes_before_and_nothing_happens_earlier(
    window, run_tasks, mailoutbox
):
    with at(FOR - timedelta(hours=1, seconds=1)):
        run_tasks()
    assert mailoutbox == []
    with at(FOR - timedelta(hours=1)):
        run_tasks()
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Maintenance in 60 minutes: Database upgrade"
    ]
    assert status_of(window) == "scheduled"


def test_the_window_starts_and_completes_on_its_own(window, components, run_tasks, mailoutbox):
    with at(FOR - timedelta(hours=1)):
        run_tasks()
    with at(FOR):
        run_tasks()
    assert status_of(window) == "in_progress"
    components["api"].refresh_from_db()
    assert components["api"].status == "under_maintenance"
    assert [u.status for u in window.updates.all()] == ["in_progress", "scheduled"]
    with at(UNTIL):
        run_tasks()
    assert status_of(window) == "completed"
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    assert window.resolved_at == UNTIL
    subjects = [m.subject for m in mailoutbox]
    assert subjects == [
        "[casedesk status] Maintenance in 60 minutes: Database upgrade",
        "[casedesk status] Maintenance in progress: Database upgrade",
        "[casedesk status] Maintenance completed: Database upgrade",
    ]


def test_an_agent_starting_early_makes_the_start_task_do_nothing(window, agent, run_tasks):
    with at(FOR - timedelta(minutes=10)):
        services.post_update(
            window, services.Posting("in_progress", "Starting a little early."), agent
        )
    with at(FOR):
        run_tasks()
    assert [u.status for u in window.updates.all()] == ["in_progress", "scheduled"]
    assert services.act_on_edge(window.pk, services.START, FOR, now=FOR) == "stale: not scheduled"


def test_a_moved_window_makes_the_old_tasks_stale(window):
    with at(CREATED):
        Incident.objects.filter(pk=window.pk).update(scheduled_for=FOR + timedelta(days=1))
    assert services.act_on_edge(window.pk, services.START, FOR, now=FOR) == "stale: window moved"
    assert (
        services.act_on_edge(window.pk, services.REMIND, FOR - timedelta(hours=1), now=FOR)
        == "stale: window moved"
    )
    assert status_of(window) == "scheduled"


def test_each_edge_acts_once_however_often_it_runs(window, mailoutbox, run_tasks):
    with at(FOR - timedelta(hours=1)):
        assert (
            services.act_on_edge(window.pk, services.REMIND, FOR - timedelta(hours=1)) == "reminded"
        )
    with at(FOR):
        assert services.act_on_edge(
            window.pk, services.REMIND, FOR - timedelta(hours=1)
        ).startswith("stale")
        assert services.act_on_edge(window.pk, services.START, FOR) == "started"
        assert services.act_on_edge(window.pk, services.START, FOR).startswith("stale")
    with at(UNTIL):
        assert services.act_on_edge(window.pk, services.COMPLETE, UNTIL) == "completed"
        assert services.act_on_edge(window.pk, services.COMPLETE, UNTIL).startswith("stale")
    assert window.updates.count() == 3


def test_the_sweep_catches_an_edge_whose_task_was_lost(window, run_tasks):
    DBTaskResult.objects.filter(task_path="casedesk.status.tasks.maintenance_edge").delete()
    with at(FOR - timedelta(minutes=58)):
        assert tasks.sweep_maintenance.call() == 1  # the reminder, 2 minutes late
    with at(FOR + timedelta(minutes=3)):
        assert tasks.sweep_maintenance.call() == 1  # the start
        assert tasks.sweep_maintenance.call() == 0
    assert status_of(window) == "in_progress"
    with at(UNTIL + timedelta(minutes=1)):
        assert tasks.sweep_maintenance.call() == 1
    assert status_of(window) == "completed"


def test_a_task_that_runs_early_does_nothing(window):
    assert (
        services.act_on_edge(window.pk, services.START, FOR, now=FOR - timedelta(seconds=1))
        == "early"
    )


def test_unscheduled_maintenance_is_in_progress_at_once(
    components, agent, run_tasks, subscriber, mailoutbox
):
    with at(CREATED):
        made = services.create_maintenance(
            services.NewMaintenance(
                "Emergency patch",
                "Patching now.",
                [components["web"]],
                None,
                CREATED + timedelta(hours=1),
            ),
            agent,
        )
        run_tasks()
    assert made.status == "in_progress" and made.unscheduled
    assert Component.objects.get(pk=components["web"].pk).status == "under_maintenance"
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Maintenance in progress: Emergency patch"
    ]
    with at(CREATED + timedelta(hours=1)):
        run_tasks()
    assert status_of(made) == "completed"


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (FOR, FOR, "scheduled_until"),
        (FOR, FOR - timedelta(hours=1), "scheduled_until"),
        (FOR, None, "scheduled_until"),
        (CREATED - timedelta(days=1), FOR, "scheduled_for"),
        (None, CREATED - timedelta(minutes=1), "scheduled_until"),
    ],
)
def test_a_window_that_makes_no_sense_is_refused(components, agent, start, end, field):
    with at(CREATED), pytest.raises(services.StatusError) as refused:
        services.create_maintenance(
            services.NewMaintenance("X", "Y", [components["api"]], start, end), agent
        )
    assert field in refused.value.errors
    assert not Incident.objects.exists()


def test_the_reminder_survives_a_dst_change_between_scheduling_and_the_window(
    components, agent, run_tasks, mailoutbox
):
    # Scheduled in CDT for a window in CST: the reminder is 60 real minutes before.
    scheduled = datetime(2026, 10, 30, 9, 0, tzinfo=CT)
    start = datetime(2026, 11, 1, 1, 30, tzinfo=CT).replace(fold=1)  # the second 01:30 (CST)
    with at(scheduled):
        made = services.create_maintenance(
            services.NewMaintenance(
                "Night work", "Work.", [components["api"]], start, start + timedelta(hours=2)
            ),
            agent,
        )
        run_tasks()
    mailoutbox.clear()
    Subscriber.objects.create(email="night@acme.example", confirmed_at=scheduled)
    first_0030 = datetime(2026, 11, 1, 0, 30, tzinfo=CT)  # CDT: 90 real minutes before start
    with at(first_0030):
        run_tasks()
    assert mailoutbox == []
    with at(start.astimezone(ZoneInfo("UTC")) - timedelta(hours=1)):
        run_tasks()
    assert len(mailoutbox) == 1
    assert status_of(made) == "scheduled"


def test_moving_the_window_makes_new_tasks_and_the_old_ones_do_nothing(
    window, agent, run_tasks, mailoutbox
):
    later = FOR + timedelta(days=1)
    with at(CREATED + timedelta(hours=1)):
        services.reschedule(window, later, later + timedelta(hours=1), "Moved a day.", agent)
        run_tasks()
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Maintenance moved: Database upgrade"
    ]
    mailoutbox.clear()
    with at(FOR):
        run_tasks()  # the old reminder and start: stale
    assert status_of(window) == "scheduled" and mailoutbox == []
    with at(later - timedelta(hours=1)):
        run_tasks()
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Maintenance in 60 minutes: Database upgrade"
    ]
    with at(later):
        run_tasks()
    assert status_of(window) == "in_progress"
    with at(UNTIL):
        run_tasks()  # the old completion: stale
    assert status_of(window) == "in_progress"
    with at(later + timedelta(hours=1)):
        run_tasks()
    assert status_of(window) == "completed"


def test_once_under_way_only_the_end_moves(window, agent, run_tasks):
    with at(FOR):
        run_tasks()
    with at(FOR + timedelta(minutes=30)):
        services.reschedule(
            window, FOR + timedelta(days=9), UNTIL + timedelta(hours=1), "Overrunning.", agent
        )
    window.refresh_from_db()
    assert window.scheduled_for == FOR
    assert window.scheduled_until == UNTIL + timedelta(hours=1)
    with at(UNTIL):
        run_tasks()
    assert status_of(window) == "in_progress"
    with at(UNTIL + timedelta(hours=1)):
        run_tasks()
    assert status_of(window) == "completed"


def test_an_incident_or_finished_maintenance_cannot_be_moved(window, incident, agent):
    made = incident()
    with at(CREATED), pytest.raises(services.StatusError):
        services.reschedule(made, FOR, UNTIL, "No.", agent)
    with at(UNTIL):
        services.act_on_edge(window.pk, services.COMPLETE, UNTIL)
    with at(UNTIL), pytest.raises(services.StatusError):
        services.reschedule(
            window, FOR + timedelta(days=2), UNTIL + timedelta(days=2), "No.", agent
        )


def test_completing_maintenance_hands_a_component_back_to_the_incident_that_holds_it(
    components, incident, agent
):
    web = components["web"]
    outage = incident("Logins fail", web="major_outage")
    patch = services.create_maintenance(
        services.NewMaintenance("Emergency fix", "Fixing.", [web]), agent
    )
    web.refresh_from_db()
    assert web.status == "under_maintenance"
    services.post_update(patch, services.Posting("completed", "Done."), agent)
    web.refresh_from_db()
    assert web.status == "major_outage"
    change = web.changes.order_by("-at", "-pk").first()
    assert change is not None and (change.old_status, change.new_status) == (
        "under_maintenance",
        "major_outage",
    )
    services.post_update(outage, services.Posting("resolved", "Fixed."), agent)
    web.refresh_from_db()
    assert web.status == "operational"


def test_a_window_completing_on_its_own_restores_the_incidents_latest_status(
    window, components, incident, agent, run_tasks
):
    api = components["api"]
    with at(FOR - timedelta(hours=2)):
        outage = incident("API errors", api="major_outage")
        services.post_update(
            outage, services.Posting("monitoring", "Better.", {api: "degraded_performance"}), agent
        )
    with at(FOR + timedelta(minutes=1)):
        run_tasks()
    api.refresh_from_db()
    assert api.status == "under_maintenance"
    with at(UNTIL + timedelta(minutes=1)):
        run_tasks()
    assert status_of(window) == "completed"
    api.refresh_from_db()
    assert api.status == "degraded_performance"


def test_a_window_opening_in_less_than_the_reminder_time_gets_no_reminder(
    components, agent, run_tasks, subscriber, mailoutbox
):
    soon = CREATED + timedelta(minutes=10)
    with at(CREATED):
        made = services.create_maintenance(
            services.NewMaintenance(
                "DB", "Quick fix.", [components["api"]], soon, soon + timedelta(hours=1)
            ),
            agent,
        )
        run_tasks()
    edges = {
        r.args_kwargs["args"][1]
        for r in DBTaskResult.objects.filter(task_path="casedesk.status.tasks.maintenance_edge")
    }
    assert edges == {"start", "complete"}
    for minutes in (1, 5, 9):
        with at(CREATED + timedelta(minutes=minutes)):
            assert tasks.sweep_maintenance.call() == 0
            run_tasks()
    with at(soon):
        run_tasks()
    assert status_of(made) == "in_progress"
    subjects = [m.subject.removeprefix("[casedesk status] ") for m in mailoutbox]
    assert subjects == ["Scheduled maintenance: DB", "Maintenance in progress: DB"]


def test_moving_a_window_to_less_than_the_reminder_time_away_sends_no_reminder(
    window, agent, run_tasks, mailoutbox
):
    now = FOR - timedelta(hours=3)
    with at(now):
        services.reschedule(window, now + timedelta(minutes=30), UNTIL, "Sooner.", agent)
        run_tasks()
    mailoutbox.clear()
    with at(now + timedelta(minutes=29)):
        assert tasks.sweep_maintenance.call() == 0
        run_tasks()
    assert mailoutbox == []


def test_a_reminder_task_running_late_says_the_real_time_left_or_is_skipped(
    window, run_tasks, mailoutbox
):
    with at(FOR - timedelta(minutes=57)):  # 3 minutes late: within the grace
        run_tasks()
    assert [m.subject for m in mailoutbox] == [
        "[casedesk status] Maintenance in 57 minutes: Database upgrade"
    ]
    assert "opens in 57 minutes" in mailoutbox[0].body


def test_a_reminder_task_running_far_too_late_is_skipped_once(window, run_tasks, mailoutbox):
    with at(FOR - timedelta(minutes=20)):
        assert tasks.sweep_maintenance.call() == 0
        run_tasks()
        assert tasks.sweep_maintenance.call() == 0
    assert mailoutbox == []
    window.refresh_from_db()
    assert window.reminded_at is not None and status_of(window) == "scheduled"


@pytest.mark.parametrize("status", ["in_progress", "verifying", "scheduled"])
def test_completed_maintenance_cannot_be_taken_back_up(components, agent, status):
    made = services.create_maintenance(
        services.NewMaintenance("DB", "Now.", [components["api"]]), agent
    )
    services.post_update(made, services.Posting("completed", "Done."), agent)
    with pytest.raises(services.StatusError) as refused:
        services.post_update(made, services.Posting(status, "Again."), agent)
    assert "status" in refused.value.errors
    assert status_of(made) == "completed"
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    # A note on the completed maintenance is still fine.
    services.post_update(made, services.Posting("completed", "Post-mortem linked."), agent)
    assert made.updates.count() == 3
