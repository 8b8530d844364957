"""/status/history.atom and .rss: one entry per incident or maintenance, with its whole
update trail in the entry (status-page readers show the entry, not the page)."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.template.loader import render_to_string
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from casedesk.status.api import with_timeline
from casedesk.status.models import Incident

ENTRIES = 50
# XML cannot carry C0 control characters but tab and line breaks; the services refuse
# them, and this keeps one that got in another way (admin, old rows) from breaking
# the whole feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _printable(text: str) -> str:
    return _CONTROL.sub("", text)


class HistoryRss(Feed):  # type: ignore[type-arg]
    feed_type = Rss201rev2Feed
    description = "Incidents and maintenance, newest first."

    def title(self) -> str:
        return _printable(f"{settings.OTP_TOTP_ISSUER} status: incident history")

    def link(self) -> str:
        return "/status/"

    def items(self) -> list[Incident]:
        return list(with_timeline(Incident.objects.order_by("-updated_at", "-pk"))[:ENTRIES])

    def item_title(self, item: Incident) -> str:
        prefix = "Maintenance" if item.is_maintenance else item.status_label
        return _printable(f"{prefix}: {item.name}")

    def item_description(self, item: Incident) -> str:
        return _printable(render_to_string("status/_feed_entry.html", {"incident": item}))

    def item_link(self, item: Incident) -> str:
        return item.get_absolute_url()

    def item_guid(self, item: Incident) -> str:
        return f"{settings.BASE_URL}{item.get_absolute_url()}"

    def item_pubdate(self, item: Incident) -> dt.datetime:
        # When it was posted: never in the future (a window scheduled for next week).
        return item.created_at

    def item_updateddate(self, item: Incident) -> dt.datetime:
        return item.updated_at


class HistoryAtom(HistoryRss):
    feed_type = Atom1Feed  # type: ignore[assignment]
    subtitle = HistoryRss.description
