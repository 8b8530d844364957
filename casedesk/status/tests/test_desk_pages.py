"""Agents create and update incidents and maintenance in the desk; nobody else can."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from casedesk.status.models import Component, Incident, UpdateTemplate

PAGES = [
    "/desk/status/",
    "/desk/status/incidents/new/",
    "/desk/status/maintenance/new/",
    "/desk/status/link-case/",
]


def test_customers_get_404_and_anonymous_people_the_log_in_page(components, alice, incident):
    made = incident()
    client = Client()
    own = [f"/desk/status/{made.public_id}/{action}" for action in ("", "update/", "reschedule/")]
    for path in [*PAGES, *own]:
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], path
    client.force_login(alice)
    for path in [*PAGES, *own]:
        assert client.get(path).status_code == 404, path
        assert (
            client.post(path, {"name": "x", "body": "y", "status": "investigating"}).status_code
            == 404
        ), path
    assert Incident.objects.count() == 1


def test_an_agent_publishes_an_incident_with_component_statuses(desk, components):
    response = desk.post(
        "/desk/status/incidents/new/",
        {
            "name": "Logins fail",
            "impact": "major",
            "status": "investigating",
            "body": "We are **looking** into it.",
            "notify": "on",
            f"component_{components['web'].public_id}": "major_outage",
            f"component_{components['api'].public_id}": "",
        },
    )
    made = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/desk/status/{made.public_id}/"
    assert made.impact == "major" and list(made.components.all()) == [components["web"]]
    assert Component.objects.get(pk=components["web"].pk).status == "major_outage"
    assert Component.objects.get(pk=components["api"].pk).status == "operational"
    page = desk.get(response["Location"]).content.decode()
    assert "<strong>looking</strong>" in page


def test_an_agent_posts_updates_and_resolving_puts_components_back(desk, components, incident):
    made = incident(web="major_outage")
    url = f"/desk/status/{made.public_id}/update/"
    assert desk.post(url, {"status": "monitoring", "body": "A fix is out."}).status_code == 302
    made.refresh_from_db()
    assert made.status == "monitoring" and made.monitoring_at is not None
    assert desk.post(url, {"status": "resolved", "body": "Fixed."}).status_code == 302
    made.refresh_from_db()
    assert made.status == "resolved" and made.resolved_at is not None
    assert Component.objects.get(pk=components["web"].pk).status == "operational"


@pytest.mark.parametrize(
    "data",
    [
        {"status": "scheduled", "body": "Wrong kind of status."},
        {"status": "nonsense", "body": "x"},
        {"status": "identified", "body": ""},
        {"status": "identified", "body": "x" * 20_001},
        {"status": "identified", "body": "ok", "component_nope": "major_outage"},
    ],
)
def test_bad_updates_change_nothing_and_say_why(desk, components, incident, data):
    made = incident()
    response = desk.post(f"/desk/status/{made.public_id}/update/", data)
    if "component_nope" in data:  # an unknown field is ignored, the rest is fine
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert "form-error" in response.content.decode()
    assert made.updates.count() == 1


def test_a_bad_component_status_is_refused(desk, components, incident):
    made = incident()
    response = desk.post(
        f"/desk/status/{made.public_id}/update/",
        {
            "status": "identified",
            "body": "ok",
            f"component_{components['web'].public_id}": "on_fire",
        },
    )
    assert response.status_code == 400
    assert Component.objects.get(pk=components["web"].pk).status == "operational"


def test_an_agent_schedules_maintenance_in_their_own_zone(desk, components):
    desk.cookies["casedesk_tz"] = "America/Chicago"
    response = desk.post(
        "/desk/status/maintenance/new/",
        {
            "name": "Database upgrade",
            "body": "Upgrading.",
            "components": [components["api"].pk],
            "scheduled_for": "2030-01-15T22:00",
            "scheduled_until": "2030-01-15T23:30",
            "notify": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = Incident.objects.get()
    assert made.kind == "maintenance" and made.status == "scheduled"
    assert made.scheduled_for is not None
    assert made.scheduled_for.isoformat() == "2030-01-16T04:00:00+00:00"  # 22:00 CST


def test_an_agent_starts_unscheduled_maintenance_by_leaving_the_start_empty(desk, components):
    response = desk.post(
        "/desk/status/maintenance/new/",
        {"name": "Emergency patch", "body": "Now.", "components": [components["web"].pk]},
    )
    assert response.status_code == 302
    made = Incident.objects.get()
    assert made.status == "in_progress" and made.unscheduled


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "body": "x"},
        {"name": "x", "body": "y", "scheduled_for": "not a date"},
        {
            "name": "x",
            "body": "y",
            "scheduled_for": "2030-01-15T22:00",
            "scheduled_until": "2030-01-15T21:00",
        },
        {
            "name": "x",
            "body": "y",
            "scheduled_for": "2001-01-15T22:00",
            "scheduled_until": "2001-01-15T23:00",
        },
        {"name": "x", "body": "y", "components": ["999999"]},
    ],
)
def test_bad_maintenance_is_refused(desk, components, data):
    response = desk.post("/desk/status/maintenance/new/", data)
    assert response.status_code == 400
    assert not Incident.objects.exists()


def test_forms_need_their_csrf_token(agent, components):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(
        "/desk/status/incidents/new/",
        {"name": "x", "impact": "minor", "status": "investigating", "body": "y"},
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_an_update_template_fills_the_form(desk, components, incident):
    made = incident()
    template = UpdateTemplate.objects.create(
        kind="incident",
        name="Monitoring",
        update_status="monitoring",
        body="A fix is out; we are watching.",
    )
    page = desk.get(f"/desk/status/{made.public_id}/?template={template.pk}").content.decode()
    assert "A fix is out; we are watching." in page
    assert 'value="monitoring" selected' in page
    for garbage in ("abc", "-1", "99999999999999999999", "", "²", "٣", "1\x00"):
        assert desk.get(f"/desk/status/{made.public_id}/", {"template": garbage}).status_code == 200


def test_an_agent_moves_a_maintenance_window(desk, components, agent):
    desk.post(
        "/desk/status/maintenance/new/",
        {
            "name": "Upgrade",
            "body": "Upgrading.",
            "scheduled_for": "2030-01-15T22:00",
            "scheduled_until": "2030-01-15T23:30",
        },
    )
    made = Incident.objects.get()
    page = desk.get(f"/desk/status/{made.public_id}/").content.decode()
    assert "Move the window" in page
    url = f"/desk/status/{made.public_id}/reschedule/"
    bad = desk.post(
        url,
        {"scheduled_for": "2030-01-16T22:00", "scheduled_until": "2030-01-16T21:00", "body": "x"},
    )
    assert bad.status_code == 400
    good = desk.post(
        url,
        {
            "scheduled_for": "2030-01-16T22:00",
            "scheduled_until": "2030-01-16T23:00",
            "body": "A day later.",
        },
    )
    assert good.status_code == 302
    made.refresh_from_db()
    assert (
        made.scheduled_for is not None
        and made.scheduled_for.isoformat() == "2030-01-16T22:00:00+00:00"
    )
    assert made.updates.values_list("body", flat=True)[0] == "A day later."


def test_resolving_leaves_a_component_that_maintenance_still_holds(
    desk, components, incident, agent
):
    from casedesk.status import services

    made = incident(api="partial_outage")
    services.create_maintenance(
        services.NewMaintenance("Patch", "Now.", [components["api"]]), agent
    )
    assert Component.objects.get(pk=components["api"].pk).status == "under_maintenance"
    desk.post(f"/desk/status/{made.public_id}/update/", {"status": "resolved", "body": "Fixed."})
    assert Component.objects.get(pk=components["api"].pk).status == "under_maintenance"


def test_a_reopened_incident_is_unresolved_again(desk, components, incident):
    made = incident(web="major_outage")
    url = f"/desk/status/{made.public_id}/update/"
    desk.post(url, {"status": "resolved", "body": "Fixed."})
    desk.post(url, {"status": "investigating", "body": "It is back."})
    made.refresh_from_db()
    assert made.is_open and made.resolved_at is None and made.resolved_by is None
    summary = Client().get("/status/api/v2/incidents/unresolved.json").json()
    assert [i["id"] for i in summary["incidents"]] == [made.public_id]


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/desk/status/incidents/new/", {"name": "Logins\x1b fail", "body": "x"}, "name"),
        ("/desk/status/incidents/new/", {"name": "Logins\nfail", "body": "x"}, "name"),
        ("/desk/status/incidents/new/", {"name": "Logins", "body": "PDF:\x0c page 2"}, "body"),
        ("/desk/status/incidents/new/", {"name": "Logins", "body": "bell\x07"}, "body"),
        ("/desk/status/maintenance/new/", {"name": "DB\x08", "body": "x"}, "name"),
        ("/desk/status/maintenance/new/", {"name": "DB", "body": "a\x1fb"}, "body"),
    ],
)
def test_control_characters_in_a_name_or_text_are_refused_on_the_form(
    desk, components, path, data, field
):
    form = {"impact": "minor", "status": "investigating", **data}
    response = desk.post(path, form)
    assert response.status_code == 400
    assert "control characters" in response.content.decode()
    assert not Incident.objects.exists()


def test_control_characters_in_an_update_are_refused_and_tabs_and_line_breaks_kept(
    desk, components, incident
):
    made = incident()
    url = f"/desk/status/{made.public_id}/update/"
    response = desk.post(url, {"status": "identified", "body": "Pasted:\x0c page 2"})
    assert response.status_code == 400 and made.updates.count() == 1
    response = desk.post(url, {"status": "identified", "body": "Line one\r\n\tindented"})
    assert response.status_code == 302
    assert made.updates.count() == 2


def test_reloading_a_form_url_after_a_failed_submit_goes_back_to_the_form(
    desk, components, incident
):
    made = incident()
    failed = desk.post("/desk/status/incidents/new/", {"name": ""})
    assert failed.status_code == 400  # the page with the form's messages, at the form's URL
    for url, back in [
        ("/desk/status/incidents/new/", "/desk/status/#new-incident"),
        ("/desk/status/maintenance/new/", "/desk/status/#new-maintenance"),
        ("/desk/status/link-case/", "/desk/status/#open-incidents"),
        (f"/desk/status/{made.public_id}/update/", f"/desk/status/{made.public_id}/"),
        (f"/desk/status/{made.public_id}/reschedule/", f"/desk/status/{made.public_id}/"),
    ]:
        response = desk.get(url)
        assert (response.status_code, response["Location"]) == (302, back), url
    assert desk.put("/desk/status/incidents/new/").status_code == 405


def test_the_incident_and_maintenance_forms_on_one_page_have_their_own_ids(desk, components):
    html = desk.get("/desk/status/").content.decode()
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for form in ("incident", "maintenance"):
        for field in ("name", "body", "notify"):
            assert f'<label for="{form}_{field}">' in html
            assert f'id="{form}_{field}"' in html
