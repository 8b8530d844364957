from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> str:
    """ "1 h 05 min", "12 min", "–" for none."""
    if value is None:
        return "–"
    total = int(value.total_seconds() // 60)
    hours, mins = divmod(total, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


@register.filter
def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"
