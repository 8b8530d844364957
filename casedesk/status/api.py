"""The Atlassian Statuspage public API v2 shapes, field for field, and the cache behind them.

Times are UTC in ISO 8601 with milliseconds and ``Z`` (as Statuspage writes them);
empty values are ``null``; lists are newest first. Field names follow the
samples in ``../shared/corpora/statuspage/`` (checked key by key in the tests).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from casedesk.status import indicator
from casedesk.status.models import (
    CLOSED_STATUSES,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    Kind,
    MaintenanceStatus,
    Page,
)

JSON = dict[str, Any]


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def the_page() -> Page:
    page = Page.objects.first()
    if page is None:
        page, _ = Page.objects.get_or_create(pk=1)
    return page


def page_json(page: Page | None = None) -> JSON:
    page = page or the_page()
    return {
        "id": page.public_id,
        "name": settings.OTP_TOTP_ISSUER,
        "url": f"{settings.BASE_URL}/status/",
        "time_zone": "Etc/UTC",
        "updated_at": iso(page.updated_at),
    }


def component_json(component: Component, page_id: str) -> JSON:
    return {
        "id": component.public_id,
        "name": component.name,
        "status": component.status,
        "created_at": iso(component.created_at),
        "updated_at": iso(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "group_id": component.group.public_id if component.group else None,
        "page_id": page_id,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_json(group: ComponentGroup, members: list[Component], page_id: str) -> JSON:
    worst = max(
        (c.status for c in members),
        key=lambda s: indicator.ORDER.index(indicator.COMPONENT_INDICATOR[s]),
        default="operational",
    )
    return {
        "id": group.public_id,
        "name": group.name,
        "status": worst,
        "created_at": iso(group.created_at),
        "updated_at": iso(group.updated_at),
        "position": group.position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page_id,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.public_id for c in members],
    }


def components_json(page_id: str) -> list[JSON]:
    """Groups and components in page order, as Statuspage lists them (a group, then its own)."""
    components = list(Component.objects.select_related("group"))
    groups = list(ComponentGroup.objects.all())
    out: list[JSON] = []
    for group in groups:
        members = [c for c in components if c.group_id == group.pk]
        out.append(group_json(group, members, page_id))
        out += [component_json(c, page_id) for c in members]
    out += [component_json(c, page_id) for c in components if c.group_id is None]
    return out


def update_json(update: IncidentUpdate, incident: Incident) -> JSON:
    changes = [
        {
            "code": change.component.public_id,
            "name": change.component.name,
            "old_status": change.old_status,
            "new_status": change.new_status,
        }
        for change in update.changes.all()
    ]
    return {
        "id": update.public_id,
        "status": update.status,
        "body": update.body,
        "incident_id": incident.public_id,
        "created_at": iso(update.created_at),
        "updated_at": iso(update.updated_at),
        "display_at": iso(update.display_at),
        "affected_components": changes or None,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_json(incident: Incident, page_id: str | None = None) -> JSON:
    page_id = page_id or the_page().public_id
    data: JSON = {
        "id": incident.public_id,
        "name": incident.name,
        "status": incident.status,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": f"{settings.BASE_URL}{incident.get_absolute_url()}",
        "started_at": iso(incident.started_at),
        "page_id": page_id,
        "incident_updates": [update_json(u, incident) for u in incident.updates.all()],
        "components": [component_json(c, page_id) for c in incident.components.all()],
        "reminder_intervals": None,
    }
    if incident.is_maintenance:
        data["scheduled_for"] = iso(incident.scheduled_for)
        data["scheduled_until"] = iso(incident.scheduled_until)
    return data


def with_timeline(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Everything ``incident_json`` reads, in a fixed number of queries."""
    return incidents.prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.prefetch_related(
                Prefetch(
                    "changes", queryset=ComponentStatusChange.objects.select_related("component")
                )
            ),
        ),
        Prefetch("components", queryset=Component.objects.select_related("group")),
    )


# ---- The documents ------------------------------------------------------------------

# incidents.json and scheduled-maintenances.json: the 50 most recent, as Statuspage serves
RECENT_INCIDENTS = 50


def _incidents(kind: str) -> QuerySet[Incident]:
    return with_timeline(Incident.objects.filter(kind=kind))


def status_doc(page: Page) -> JSON:
    statuses = Component.objects.values_list("status", flat=True)
    impacts = (
        Incident.objects.filter(kind=Kind.INCIDENT)
        .exclude(status__in=CLOSED_STATUSES)
        .values_list("impact", flat=True)
    )
    in_progress = Incident.objects.filter(
        kind=Kind.MAINTENANCE,
        status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING],
    ).exists()
    code, description = indicator.overall(statuses, impacts, in_progress)
    return {"page": page_json(page), "status": {"indicator": code, "description": description}}


def _maintenance_list(page: Page, statuses: list[str] | None) -> list[JSON]:
    maintenance = _incidents(Kind.MAINTENANCE)
    if statuses is not None:
        maintenance = maintenance.filter(status__in=statuses)
    maintenance = maintenance.order_by("-scheduled_for", "-pk")
    if statuses is None:
        maintenance = maintenance[:RECENT_INCIDENTS]  # all of it: the 50 latest, as incidents
    return [incident_json(m, page.public_id) for m in maintenance]


def document(name: str, page: Page) -> JSON:
    """One of the API's documents by name (``summary``, ``incidents/unresolved``, ...)."""
    pid = page.public_id
    active = [MaintenanceStatus.IN_PROGRESS.value, MaintenanceStatus.VERIFYING.value]
    open_incidents = _incidents(Kind.INCIDENT).exclude(status__in=CLOSED_STATUSES)
    if name == "status":
        return status_doc(page)
    if name == "components":
        return {"page": page_json(page), "components": components_json(pid)}
    if name == "incidents":
        recent = _incidents(Kind.INCIDENT)[:RECENT_INCIDENTS]
        return {"page": page_json(page), "incidents": [incident_json(i, pid) for i in recent]}
    if name == "incidents/unresolved":
        return {
            "page": page_json(page),
            "incidents": [incident_json(i, pid) for i in open_incidents],
        }
    if name == "scheduled-maintenances":
        return {"page": page_json(page), "scheduled_maintenances": _maintenance_list(page, None)}
    if name == "scheduled-maintenances/upcoming":
        upcoming = _maintenance_list(page, [MaintenanceStatus.SCHEDULED.value])
        return {"page": page_json(page), "scheduled_maintenances": upcoming}
    if name == "scheduled-maintenances/active":
        return {"page": page_json(page), "scheduled_maintenances": _maintenance_list(page, active)}
    if name == "summary":
        return {
            "page": page_json(page),
            "components": components_json(pid),
            "incidents": [incident_json(i, pid) for i in open_incidents],
            "scheduled_maintenances": _maintenance_list(
                page, [MaintenanceStatus.SCHEDULED.value, *active]
            ),
            "status": status_doc(page)["status"],
        }
    raise KeyError(name)


DOCUMENTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)
