"""Template tags other apps' templates use through this app's partials (banner, case links)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.cache import cache
from django.utils.safestring import SafeString

from casedesk.status import presenters, services
from casedesk.status.caching import page_version

register = template.Library()


@register.filter
def status_markdown(text: str) -> SafeString:
    return presenters.body_html(text)


@register.simple_tag
def open_incidents_for_banner() -> list[tuple[str, str]]:
    """Open incidents' ``(name, url)``, cached per page version (every portal page asks)."""
    key = f"status:banner:{page_version()}"
    links: list[tuple[str, str]] | None = cache.get(key)
    if links is None:
        links = services.open_incident_links()
        cache.set(key, links, 300)
    return links


@register.simple_tag
def case_incident_links(case: Any) -> dict[str, object]:
    linked = list(services.linked_incidents(case))
    open_ones = [i for i in services.open_incidents() if i not in linked]
    return {"linked": linked, "open": open_ones}
