"""What the public pages show: components with their uptime bars, incidents with updates."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from casedesk.help.rendering import markdown_to_html, sanitise
from casedesk.status import uptime
from casedesk.status.models import Component, ComponentGroup, ComponentStatusChange

UPTIME_DAYS = 90


def body_html(markdown_text: str) -> SafeString:
    """An update's Markdown as sanitised HTML (raw HTML in it comes out escaped)."""
    return mark_safe(sanitise(markdown_to_html(markdown_text)))  # noqa: S308 - nh3 just cleaned it


@dataclass
class ComponentRow:
    component: Component
    bars: list[uptime.DayBar]
    share: float | None

    @property
    def uptime_text(self) -> str:
        return "no data" if self.share is None else f"{self.share * 100:.2f}% uptime"


@dataclass
class GroupRows:
    group: ComponentGroup | None
    rows: list[ComponentRow] = field(default_factory=list)


def component_rows(zone: ZoneInfo, now: dt.datetime | None = None) -> list[GroupRows]:
    """Every component, in its group, with 90 days of bars, from two queries."""
    now = now or timezone.now()
    window_start = dt.datetime.combine(
        now.astimezone(zone).date() - dt.timedelta(days=UPTIME_DAYS - 1), dt.time(), zone
    )
    changes: dict[int, list[ComponentStatusChange]] = defaultdict(list)
    for change in ComponentStatusChange.objects.filter(at__gte=window_start).order_by("at", "pk"):
        changes[change.component_id].append(change)
    groups: dict[int | None, GroupRows] = {g.pk: GroupRows(g) for g in ComponentGroup.objects.all()}
    loose = GroupRows(None)
    for component in Component.objects.all():
        if component.only_show_if_degraded and component.status == "operational":
            continue
        mine = changes.get(component.pk, [])
        # The status before the window: the first change's old status, else today's.
        initial = mine[0].old_status if mine else component.status
        if component.start_date:
            start = dt.datetime.combine(component.start_date, dt.time(), zone)
        else:
            start = component.created_at
        bars = uptime.day_bars(
            [(c.at, c.new_status) for c in mine],
            initial=initial,
            start=max(start, window_start),
            now=now,
            zone=zone,
            days=UPTIME_DAYS,
        )
        row = ComponentRow(component, bars if component.showcase else [], uptime.share_up(bars))
        target = groups.get(component.group_id) if component.group_id else loose
        (target or loose).rows.append(row)
    found = [g for g in groups.values() if g.rows]
    if loose.rows:
        found.append(loose)
    return found
