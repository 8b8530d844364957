"""Any change to what the status page shows bumps its version (cached summary, ETags).

The services bump it themselves; these catch edits in the admin (components,
groups, their order and descriptions).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from casedesk.status.models import Component, ComponentGroup, Incident, IncidentUpdate, bump_version


@receiver(post_save, sender=Component)
@receiver(post_delete, sender=Component)
@receiver(post_save, sender=ComponentGroup)
@receiver(post_delete, sender=ComponentGroup)
@receiver(post_save, sender=Incident)
@receiver(post_delete, sender=Incident)
@receiver(post_save, sender=IncidentUpdate)
@receiver(post_delete, sender=IncidentUpdate)
@receiver(m2m_changed, sender=Incident.components.through)
def _changed(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # loading fixtures
    bump_version()
