"""The after-hours report: per month, per organization and per responder; chart and CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from casedesk.cases import services as case_services
from casedesk.oncall import report, services
from casedesk.oncall.models import Page

CT = ZoneInfo("America/Chicago")
OCTOBER_NIGHT = datetime(2026, 10, 14, 1, 0, tzinfo=CT)
NOVEMBER_NIGHT = datetime(2026, 11, 11, 3, 0, tzinfo=CT)
NOVEMBER_DAY = datetime(2026, 11, 12, 10, 0, tzinfo=CT)


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


@pytest.fixture
def history(team, alice, bob, agent, open_case, standin):
    """Three critical cases: October night (acked 10 min, answered 40 min, by Pat/Sam),
    November night for Globex (acked 5 min by Kim, answered after 3 hours), November day."""
    with at(OCTOBER_NIGHT):
        october = open_case(alice, "Critical", subject="Data corrupted")
        services.page(october)  # (this test's transaction never commits: no signal)
    with at(OCTOBER_NIGHT + timedelta(minutes=10)):
        services.acknowledge(Page.objects.get(page_cases__case=october), team["pat"], "sms")
    with at(OCTOBER_NIGHT + timedelta(minutes=40)):
        case_services.add_reply(october, agent, "Restoring from backup.")
    with at(NOVEMBER_NIGHT):
        late = open_case(bob, "Critical", subject="=HYPERLINK(evil)")
        services.page(late)
    with at(NOVEMBER_NIGHT + timedelta(minutes=5)):
        services.acknowledge(Page.objects.get(page_cases__case=late), team["kim"], "voice")
    with at(NOVEMBER_NIGHT + timedelta(hours=3)):
        case_services.add_reply(late, team["kim"], "Fixed.")
    with at(NOVEMBER_DAY):
        day = open_case(alice, "Critical", subject="Slow")
    with at(NOVEMBER_DAY + timedelta(minutes=20)):
        case_services.add_reply(day, agent, "Looking.")
    return october, late, day


def test_the_figures_per_month_organization_and_responder(history):
    with at(datetime(2026, 11, 30, tzinfo=CT)):
        built = report.build(datetime(2026, 10, 1, tzinfo=CT), datetime(2026, 12, 1, tzinfo=CT), CT)
    overall = built.overall
    assert (overall.cases, overall.after_hours) == (3, 2)
    assert overall.ack_median == timedelta(minutes=5)
    assert overall.ack_p90 == timedelta(minutes=10)
    assert overall.response_median == timedelta(minutes=40)
    assert overall.response_p90 == timedelta(hours=3)
    assert overall.within_promise == pytest.approx(2 / 3)
    assert [(m.label, m.cases, m.after_hours) for m in built.months] == [
        ("2026-10", 1, 1),
        ("2026-11", 2, 1),
    ]
    assert [(o.label, o.cases) for o in built.organizations] == [("Acme", 2), ("Globex", 1)]
    by_name = {r.label: r for r in built.responders}
    assert by_name["Kim Secondary"].acks == [timedelta(minutes=5)]
    assert by_name["Kim Secondary"].responses == [timedelta(hours=3)]
    assert by_name["Sam Agent"].responses == [timedelta(minutes=40), timedelta(minutes=20)]
    assert by_name["Pat Primary"].within_promise is None  # acknowledged, never replied


def test_every_month_of_the_window_has_a_bar_even_an_empty_one():
    labels = report.month_labels(
        datetime(2026, 11, 1, tzinfo=CT), datetime(2027, 3, 1, tzinfo=CT), CT
    )
    assert labels == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_percentiles_are_by_nearest_rank():
    minutes = [timedelta(minutes=m) for m in range(1, 11)]
    assert report.percentile(minutes, 0.5) == timedelta(minutes=5)
    assert report.percentile(minutes, 0.9) == timedelta(minutes=9)
    assert report.percentile([], 0.9) is None


def test_unanswered_cases_count_in_the_response_median_and_p90_as_at_least_their_wait(
    history, alice, open_case, agent
):
    with at(NOVEMBER_NIGHT + timedelta(days=1)):
        open_case(alice, "Critical", subject="Nobody answers")
    window = (datetime(2026, 11, 1, tzinfo=CT), datetime(2026, 12, 1, tzinfo=CT), CT)
    with at(NOVEMBER_NIGHT + timedelta(days=1, hours=5)):
        built = report.build(*window)
        overall = built.overall
        # Answered: 20 min and 3 h; waiting 5 h so far. Median 3 h (exact), p90 at least 5 h.
        assert overall.waiting == [timedelta(hours=5)]
        assert (overall.response_median, overall.response_median_at_least) == (
            timedelta(hours=3),
            False,
        )
        assert (overall.response_p90, overall.response_p90_at_least) == (timedelta(hours=5), True)
        client = Client()
        client.force_login(agent)
        page = client.get("/desk/oncall/report/?from=2026-11&to=2026-11").content.decode()
    assert "≥ 5 h 00 min" in page


def test_a_censored_percentile_is_exact_when_no_waiting_case_ranks_at_or_below_it():
    m = [timedelta(minutes=x) for x in (10, 20, 30)]
    assert report.censored_percentile(m, [timedelta(minutes=90)], 0.5) == (
        timedelta(minutes=20),
        False,
    )
    assert report.censored_percentile(m, [timedelta(minutes=5)], 0.5) == (
        timedelta(minutes=10),
        True,
    )
    assert report.censored_percentile([], [], 0.5) == (None, False)


def test_an_unanswered_case_counts_as_a_miss_only_after_two_hours(team, alice, open_case, standin):
    with at(OCTOBER_NIGHT):
        open_case(alice, "Critical")
    window = (datetime(2026, 10, 1, tzinfo=CT), datetime(2026, 11, 1, tzinfo=CT), CT)
    with at(OCTOBER_NIGHT + timedelta(minutes=119)):
        assert report.build(*window).overall.within_promise is None
    with at(OCTOBER_NIGHT + timedelta(minutes=121)):
        assert report.build(*window).overall.within_promise == 0


def test_the_page_draws_a_chart_and_exports_csv_without_formulas(history, agent):
    desk = Client()
    with at(datetime(2026, 11, 30, 12, tzinfo=CT)):
        desk.force_login(agent)
        page = desk.get("/desk/oncall/report/?from=2026-10&to=2026-11").content.decode()
        exported = desk.get("/desk/oncall/report/?from=2026-10&to=2026-11&format=csv")
    assert "<svg" in page and "2026-11: 2 critical, 1 after hours" in page
    assert 'data-testid="stats-responder"' in page and "Kim Secondary" in page
    assert exported["Content-Disposition"].endswith('critical-cases-2026-10-2026-11.csv"')
    assert exported.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark, for Excel
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["case"] for r in rows] == [c.reference for c in history]
    assert rows[0]["minutes_to_ack"] == "10.0" and rows[0]["within_2h"] == "yes"
    assert rows[1]["within_2h"] == "no" and rows[1]["acknowledged_by"] == "Kim Secondary"
    assert not any(value.startswith("=") for row in rows for value in row.values())


@pytest.mark.parametrize(
    "query",
    [
        "from=garbage&to=2026-13",
        "from=1900-01",
        "from=2026-11&to=2026-10",
        "from=%00",
        "to=99999-1",
    ],
)
def test_nonsense_months_fall_back_to_a_sensible_window(team, agent, query):
    desk = Client()
    desk.force_login(agent)
    response = desk.get(f"/desk/oncall/report/?{query}")
    assert response.status_code == 200
    assert b"Critical cases per month" in response.content
