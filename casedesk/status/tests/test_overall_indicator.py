"""The overall indicator: worst wins, maintenance only while nothing is broken."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from casedesk.status import api, indicator, services
from casedesk.status.models import ComponentStatus

STATUSES = list(ComponentStatus.values)
IMPACTS = ["none", "minor", "major", "critical"]
RANK = {"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}


def expected(components, impacts, maintenance):
    ranks = [0]
    for status in components:
        ranks.append(
            {
                "operational": 0,
                "under_maintenance": 1,
                "degraded_performance": 2,
                "partial_outage": 3,
                "major_outage": 4,
            }[status]
        )
    ranks += [RANK[i] for i in impacts]
    if maintenance:
        ranks.append(1)
    return max(ranks)


def test_every_mix_of_two_components_an_incident_and_maintenance_gives_the_worst():
    for a, b, impact, maintenance in itertools.product(
        STATUSES, STATUSES, [None, *IMPACTS], [False, True]
    ):
        impacts = [] if impact is None else [impact]
        code, description = indicator.overall([a, b], impacts, maintenance)
        assert RANK[code] == expected([a, b], impacts, maintenance), (a, b, impact, maintenance)
        assert description == indicator.DESCRIPTIONS[code]


@given(
    st.lists(st.sampled_from(STATUSES), max_size=8),
    st.lists(st.sampled_from(IMPACTS), max_size=4),
    st.booleans(),
)
def test_adding_anything_never_makes_the_page_look_better(components, impacts, maintenance):
    base = RANK[indicator.overall(components, impacts, maintenance)[0]]
    for extra in STATUSES:
        assert RANK[indicator.overall([*components, extra], impacts, maintenance)[0]] >= base
    assert RANK[indicator.overall(components, impacts, True)[0]] >= base


def test_nothing_at_all_is_all_systems_operational():
    assert indicator.overall([], [], False) == ("none", "All Systems Operational")


def test_an_unknown_impact_counts_as_none_rather_than_crashing():
    assert indicator.overall(["operational"], ["bogus"], False)[0] == "none"


def test_the_status_document_reads_components_open_incidents_and_maintenance(
    components, incident, agent
):
    page = api.the_page()
    assert api.status_doc(page)["status"]["indicator"] == "none"
    incident("Slow pages", impact="minor", web="degraded_performance")
    assert api.status_doc(page)["status"] == {
        "indicator": "minor",
        "description": "Minor Service Outage",
    }
    services.create_maintenance(
        services.NewMaintenance("Database upgrade", "Upgrading.", [components["api"]]), agent
    )
    # A real problem outranks maintenance.
    assert api.status_doc(page)["status"]["indicator"] == "minor"


def test_maintenance_in_progress_shows_maintenance_when_nothing_is_broken(components, agent):
    services.create_maintenance(
        services.NewMaintenance("Database upgrade", "Upgrading.", [components["api"]]), agent
    )
    assert api.status_doc(api.the_page())["status"] == {
        "indicator": "maintenance",
        "description": "Service Under Maintenance",
    }
