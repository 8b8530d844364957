"""Atom and RSS history feeds and the maintenance calendar, read as their readers read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import feedparser
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from casedesk.status import services


def history(components, incident, agent):
    made = incident("API errors", api="partial_outage")
    services.post_update(
        made, services.Posting("resolved", "Fixed **for good** <script>x()</script>"), agent
    )
    soon = timezone.now() + timedelta(days=1)
    services.create_maintenance(
        services.NewMaintenance(
            "Upgrade", "Upgrading.", [components["web"]], soon, soon + timedelta(hours=1)
        ),
        agent,
    )
    return made


def test_the_atom_feed_has_one_entry_per_incident_with_its_whole_trail(components, incident, agent):
    made = history(components, incident, agent)
    response = Client().get("/status/history.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    ElementTree.fromstring(response.content)  # well-formed XML
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    titles = [entry.title for entry in feed.entries]
    assert sorted(titles) == ["Maintenance: Upgrade", "Resolved: API errors"]
    entry = next(e for e in feed.entries if e.title == "Resolved: API errors")
    assert entry.link == f"http://testserver{made.get_absolute_url()}"
    text = entry.summary
    assert "Investigating" in text and "Resolved" in text
    assert "<strong>for good</strong>" in text
    assert "<script>" not in text


def test_the_rss_feed_parses_too(components, incident, agent):
    history(components, incident, agent)
    response = Client().get("/status/history.rss")
    ElementTree.fromstring(response.content)
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert len(feed.entries) == 2
    assert all(entry.published_parsed for entry in feed.entries)


def test_an_empty_history_is_a_valid_empty_feed(db):
    for path in ("/status/history.atom", "/status/history.rss"):
        feed = feedparser.parse(Client().get(path).content)
        assert not feed.bozo and feed.entries == []


def test_the_maintenance_calendar_lists_each_window(components, incident, agent):
    history(components, incident, agent)
    response = Client().get("/status/maintenance.ics")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Maintenance: Upgrade"]
    event = events[0]
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start.utcoffset() == timedelta(0)
    assert end - start == timedelta(hours=1)
    assert str(event["uid"]).endswith("@127.0.0.1:8000")


def test_the_feeds_are_cached_with_an_etag_until_something_changes(components, incident, agent):
    first = Client().get("/status/history.atom")
    assert Client().get("/status/history.atom", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    incident("New one")
    second = Client().get("/status/history.atom", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert "New one" in second.content.decode()


def test_a_control_character_that_got_in_another_way_does_not_break_the_feeds(
    components, incident, agent
):
    from casedesk.status.models import Incident, IncidentUpdate

    made = incident("API errors", api="partial_outage")
    # Past the services' check (admin, rows from before it): the feeds drop the character.
    Incident.objects.filter(pk=made.pk).update(name="API\x1b errors")
    IncidentUpdate.objects.filter(incident=made).update(body="Pasted from a PDF:\x0c page 2")
    services.post_update(made, services.Posting("identified", "Found it."), agent)
    for path in ("/status/history.atom", "/status/history.rss"):
        response = Client().get(path)
        assert response.status_code == 200
        ElementTree.fromstring(response.content)  # well-formed
        entry = feedparser.parse(response.content).entries[0]
        assert "API errors" in entry.title
        assert "page 2" in entry.description


def test_feed_entries_are_dated_when_posted_never_in_the_future(components, incident, agent):
    history(components, incident, agent)  # includes a window tomorrow
    now = timezone.now()
    for path in ("/status/history.atom", "/status/history.rss"):
        feed = feedparser.parse(Client().get(path).content)
        assert len(feed.entries) == 2
        for entry in feed.entries:
            parsed = entry.get("published_parsed") or entry.get("updated_parsed")
            assert parsed is not None
            published = datetime(*parsed[:6]).replace(tzinfo=UTC)
            assert published <= now + timedelta(seconds=1), (path, entry.title)
