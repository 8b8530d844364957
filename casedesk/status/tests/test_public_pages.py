"""The public status page, incident pages and history: no log-in, cached, sanitised."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.http import Http404
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from casedesk.status import services
from casedesk.status.views import _month


def test_the_page_shows_the_state_components_incidents_and_maintenance(busy_page, calendars):
    response = Client().get("/status/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Partial System Outage" in page
    for text in (
        "Product",
        "Web app",
        "API",
        "Support",
        "Portal",
        "Email",
        "Current incidents",
        "Slow API",
        "Maintenance in progress",
        "Portal restart",
        "Unscheduled",
        "Scheduled maintenance",
        "Database upgrade",
        "Support is",
        "Past 7 days",
        "Mail delayed",
    ):
        assert text in page, text
    assert page.count('class="bar ') == 4 * 90


def test_nobody_needs_to_log_in_and_nobody_is_shown(components, alice, calendars):
    client = Client()
    client.force_login(alice)
    page = client.get("/status/").content.decode()
    assert "alice@acme.example" not in page
    assert "csrfmiddlewaretoken" not in page


def test_the_page_is_served_from_the_cache_with_an_etag(
    components, calendars, django_assert_max_num_queries
):
    first = Client().get("/status/")
    with django_assert_max_num_queries(2):
        again = Client().get("/status/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    with django_assert_max_num_queries(2):
        assert Client().get("/status/").content == first.content


def test_update_bodies_are_markdown_with_html_removed(components, incident, agent, calendars):
    made = incident("XSS", api="partial_outage")
    services.post_update(
        made,
        services.Posting(
            "identified",
            "Found it: **config** <img src=x onerror=alert(1)> [link](javascript:alert(2))",
        ),
        agent,
    )
    page = Client().get(made.get_absolute_url()).content.decode()
    assert "<strong>config</strong>" in page
    assert "onerror" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert 'href="javascript' not in page


def test_incident_and_maintenance_pages_404_for_unknown_or_crossed_ids(components, incident, agent):
    made = incident()
    assert Client().get(f"/status/incidents/{made.public_id}/").status_code == 200
    assert Client().get(f"/status/maintenance/{made.public_id}/").status_code == 404
    assert Client().get("/status/incidents/nope/").status_code == 404
    assert Client().get("/status/incidents/../../etc/").status_code == 404


def test_history_groups_by_month_in_the_viewers_zone(components, incident, agent):
    chicago = ZoneInfo("America/Chicago")
    with time_machine.travel(datetime(2026, 10, 31, 22, 0, tzinfo=chicago), tick=False):
        incident("Late October")  # 03:00 UTC on November 1
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=chicago), tick=False):
        client = Client()
        client.cookies["casedesk_tz"] = "America/Chicago"
        october = client.get("/status/history/?month=2026-10").content.decode()
        november = client.get("/status/history/").content.decode()
        utc = Client().get("/status/history/?month=2026-11").content.decode()
    assert "Late October" in october and "Late October" not in november
    assert "Late October" in utc
    assert "?month=2026-10" in november  # the link to the month before


@pytest.mark.parametrize(
    "month",
    ["2026-13", "abc", "2026-1", "1999-12", "2999-01", "2026-10-01", "-1-01", "２０２６-10"],
)
def test_history_of_a_month_that_makes_no_sense_is_404(db, month):
    assert Client().get("/status/history/", {"month": month}).status_code == 404


def test_open_incident_links_name_each_open_incident(components, incident, agent):
    made = incident("Logins fail")
    done = incident("Old")
    services.post_update(done, services.Posting("resolved", "Done."), agent)
    assert services.open_incident_links() == [
        ("Logins fail", f"http://127.0.0.1:8000/status/incidents/{made.public_id}/")
    ]


def test_a_component_shown_only_if_degraded_appears_when_it_is(components, incident, calendars):
    components["email"].only_show_if_degraded = True
    components["email"].save()
    assert "Inbound mail" not in Client().get("/status/").content.decode()
    incident("Mail slow", email="degraded_performance")
    assert "Inbound mail" in Client().get("/status/").content.decode()


@given(st.text(max_size=12))
def test_any_month_parameter_is_a_month_up_to_today_or_a_404(text):
    today = date(2026, 11, 26)
    try:
        first = _month(text, today)
    except Http404:
        return
    assert first.day == 1 and date(2000, 1, 1) <= first <= today
    assert not text or text == first.strftime("%Y-%m")
