"""Demo status page for `make run`: components in groups, a resolved incident, an open
incident and upcoming maintenance. Idempotent: each part only while there is none."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.status import services
from casedesk.status.models import (
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    Kind,
    UpdateTemplate,
)

GROUPS = {
    "Product": ["Web application", "API", "Reports"],
    "Support": ["Customer portal", "Email intake", "Emergency phone line"],
}
TEMPLATES = [
    (
        "incident",
        "Investigating",
        "investigating",
        "We are investigating reports of problems with {component}.",
    ),
    (
        "incident",
        "Fix deployed",
        "monitoring",
        "A fix has been deployed and we are monitoring the results.",
    ),
    ("incident", "Resolved", "resolved", "This incident has been resolved."),
    (
        "maintenance",
        "Verifying",
        "verifying",
        "The work is done; we are verifying that everything works.",
    ),
]


def ensure_demo_status(author: User | None) -> list[str]:
    created: list[str] = []
    now = timezone.now()
    if not Component.objects.exists():
        for position, (group_name, names) in enumerate(GROUPS.items(), start=1):
            group = ComponentGroup.objects.create(name=group_name, position=position)
            for index, name in enumerate(names, start=1):
                Component.objects.create(
                    name=name,
                    group=group,
                    position=index,
                    start_date=(now - timedelta(days=120)).date(),
                )
        Component.objects.update(created_at=now - timedelta(days=120))
        created.append("status components")
    if not UpdateTemplate.objects.exists():
        for kind, name, status, body in TEMPLATES:
            UpdateTemplate.objects.create(kind=kind, name=name, update_status=status, body=body)
        created.append("status update templates")
    if Incident.objects.exists() or author is None or not author.is_vendor_staff:
        return created
    by_name = {c.name: c for c in Component.objects.all()}

    resolved = services.create_incident(
        services.NewIncident(
            name="Reports slow to load",
            impact="minor",
            first=services.Posting(
                "investigating",
                "Reports take minutes to load. We are investigating.",
                {by_name["Reports"]: "degraded_performance"},
                notify=False,
            ),
        ),
        author,
    )
    services.post_update(
        resolved,
        services.Posting(
            "identified", "A slow database query; a fix is being deployed.", notify=False
        ),
        author,
    )
    services.post_update(
        resolved, services.Posting("resolved", "Reports load normally again.", notify=False), author
    )
    _back_date(resolved, timedelta(days=12))
    created.append("a resolved incident")

    services.create_incident(
        services.NewIncident(
            name="Delays in email intake",
            impact="minor",
            first=services.Posting(
                "identified",
                "Mail to support is taking up to 20 minutes to become a case. "
                "The portal and the phone line are not affected.",
                {by_name["Email intake"]: "degraded_performance"},
                notify=False,
            ),
        ),
        author,
    )
    created.append("an open incident")

    start = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    services.create_maintenance(
        services.NewMaintenance(
            name="Database upgrade",
            body="We are upgrading the database. The web application and API may be "
            "unavailable for up to 30 minutes in this window.",
            components=[by_name["Web application"], by_name["API"]],
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=2),
            notify=False,
        ),
        author,
    )
    created.append("upcoming maintenance")
    return created


def _back_date(incident: Incident, by: timedelta) -> None:
    """Move a demo incident into the past, with its updates and status changes."""
    Incident.objects.filter(pk=incident.pk).update(
        created_at=F("created_at") - by,
        updated_at=F("updated_at") - by,
        started_at=F("started_at") - by,
        resolved_at=F("resolved_at") - by,
    )
    # The updates were minutes apart in the demo; make it hours, as a real one would be.
    for index, update in enumerate(IncidentUpdate.objects.filter(incident=incident).order_by("pk")):
        at = update.created_at - by + timedelta(hours=index)
        IncidentUpdate.objects.filter(pk=update.pk).update(
            created_at=at, updated_at=at, display_at=at
        )
        ComponentStatusChange.objects.filter(update=update).update(at=at)
    if incident.kind == Kind.INCIDENT:
        Incident.objects.filter(pk=incident.pk).update(
            resolved_at=F("started_at") + timedelta(hours=2)
        )
