"""The cache behind the public pages: keyed on the page's version, each process's memo of it."""

from __future__ import annotations

from django.test import Client

from casedesk.status.caching import forget_version, page_version
from casedesk.status.models import Page, bump_version


def test_a_change_in_this_process_is_seen_at_once_even_with_a_long_memo(
    components, incident, settings
):
    settings.STATUS_VERSION_TTL = 60
    before = Client().get("/status/api/v2/incidents/unresolved.json")
    incident("Logins fail")
    after = Client().get("/status/api/v2/incidents/unresolved.json")
    assert after["ETag"] != before["ETag"]
    assert after.json()["incidents"][0]["name"] == "Logins fail"


def test_another_processs_change_shows_once_the_memo_expires(components, settings):
    settings.STATUS_VERSION_TTL = 60
    first = page_version()
    Page.objects.update(version=10_000)  # as another process's bump would, unseen here
    assert page_version() == first
    settings.STATUS_VERSION_TTL = 0
    assert page_version() != first
    assert page_version().endswith(".10000")


def test_the_key_changes_with_a_new_page_so_an_old_cache_never_answers(db):
    bump_version()
    first = page_version()
    Page.objects.all().delete()
    forget_version()
    bump_version()
    assert page_version() != first


def test_a_change_between_reading_an_incident_and_caching_it_is_not_hidden(
    components, incident, agent, monkeypatch
):
    """The incident page reads the row after the cache key's version: an update that
    lands in between (another process) cannot be cached, stale, under the new version."""
    from typing import Any

    from casedesk.status import caching, services

    made = incident("Logins fail", web="major_outage")
    raced: list[bool] = []

    def change_then_cache(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            services.post_update(made, services.Posting("identified", "Found the cause."), agent)
        return caching.cached(*args, **kwargs)

    monkeypatch.setattr("casedesk.status.views.cached", change_then_cache)
    first = Client().get(f"/status/incidents/{made.public_id}/").content.decode()
    assert "Found the cause." in first
    monkeypatch.undo()
    again = Client().get(f"/status/incidents/{made.public_id}/").content.decode()
    assert "Found the cause." in again
