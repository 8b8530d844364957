"""The overall status indicator, from the components and the open incidents (pure Python).

Worst wins. The order, best to worst: ``none`` < ``maintenance`` < ``minor`` <
``major`` < ``critical``. Maintenance in progress (or a component under
maintenance) shows ``maintenance`` only while nothing is actually broken: a
customer who sees "under maintenance" during a real outage would wait for the
window to end instead of opening a case.

A component's status counts as: degraded performance -> minor, partial outage
-> major, major outage -> critical (Statuspage's own mapping); an open incident
counts as its impact.
"""

from __future__ import annotations

from collections.abc import Iterable

ORDER = ("none", "maintenance", "minor", "major", "critical")

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}

COMPONENT_INDICATOR = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}


def worst(indicators: Iterable[str]) -> str:
    return max(indicators, key=ORDER.index, default="none")


def overall(
    component_statuses: Iterable[str],
    open_incident_impacts: Iterable[str],
    maintenance_in_progress: bool,
) -> tuple[str, str]:
    """``(indicator, description)`` for the page, as Statuspage's ``status`` object."""
    found = [COMPONENT_INDICATOR[s] for s in component_statuses]
    found += [i if i in ORDER else "none" for i in open_incident_impacts]
    if maintenance_in_progress:
        found.append("maintenance")
    indicator = worst(found)
    return indicator, DESCRIPTIONS[indicator]
