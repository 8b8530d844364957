"""Fixtures of the status tests: components in groups, a desk browser, incident helpers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from casedesk.status import services
from casedesk.status.models import Component, ComponentGroup


@pytest.fixture
def components(db: None) -> dict[str, Component]:
    """Two groups: Product (Web app, API) and Support (Portal); plus Email alone."""
    product = ComponentGroup.objects.create(name="Product", position=1)
    support = ComponentGroup.objects.create(name="Support", position=2)
    made = {
        "web": Component.objects.create(name="Web app", group=product, position=1),
        "api": Component.objects.create(name="API", group=product, position=2),
        "portal": Component.objects.create(name="Portal", group=support, position=1),
        "email": Component.objects.create(name="Email", position=3, description="Inbound mail"),
    }
    return made


@pytest.fixture
def incident(components: dict[str, Component], agent: Any) -> Any:
    """Make an incident through the services: ``incident(name, web="major_outage")``."""

    def make(
        name: str = "Logins fail", impact: str = "major", notify: bool = True, **statuses: str
    ) -> Any:
        chosen = {components[key]: value for key, value in statuses.items()}
        return services.create_incident(
            services.NewIncident(
                name=name,
                impact=impact,
                first=services.Posting("investigating", "We are looking into it.", chosen, notify),
            ),
            agent,
        )

    return make


@pytest.fixture
def busy_page(components, incident, agent):
    """An open incident, a resolved one, upcoming and in-progress maintenance."""
    open_one = incident("Slow API", impact="minor", api="degraded_performance")
    services.post_update(
        open_one,
        services.Posting("identified", "A bad deploy.", {components["web"]: "partial_outage"}),
        agent,
    )
    done = incident("Mail delayed", impact="major", email="major_outage")
    services.post_update(done, services.Posting("resolved", "Mail flows again."), agent)
    soon = timezone.now() + timedelta(days=2)
    services.create_maintenance(
        services.NewMaintenance(
            "Database upgrade", "Upgrading.", [components["api"]], soon, soon + timedelta(hours=2)
        ),
        agent,
    )
    services.create_maintenance(
        services.NewMaintenance("Portal restart", "Restarting.", [components["portal"]]), agent
    )
    return open_one
