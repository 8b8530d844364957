"""Cases linked to incidents: the banner in the portal, links from the desk, the reply at resolution."""

from __future__ import annotations

import pytest
from django.test import Client

from casedesk.cases import services as cases
from casedesk.cases.models import EventKind
from casedesk.status import services
from casedesk.status.models import IncidentCase


@pytest.fixture
def acme_client(alice):
    client = Client()
    client.force_login(alice)
    return client


def test_an_open_incident_shows_as_a_banner_in_the_portal_and_on_the_new_case_form(
    components, incident, acme_client, priorities, calendars
):
    assert "incident-banner" not in acme_client.get("/portal/new/").content.decode()
    made = incident("Logins fail")
    for path in ("/portal/", "/portal/new/"):
        page = acme_client.get(path).content.decode()
        assert 'data-testid="incident-banner"' in page, path
        assert f'href="http://127.0.0.1:8000/status/incidents/{made.public_id}/"' in page
        assert "Logins fail" in page


def test_the_banner_goes_when_the_incident_is_resolved(
    components, incident, agent, acme_client, priorities, calendars
):
    made = incident("Logins fail")
    assert "Logins fail" in acme_client.get("/portal/").content.decode()
    services.post_update(made, services.Posting("resolved", "Fixed."), agent)
    assert "incident-banner" not in acme_client.get("/portal/").content.decode()


def test_the_banner_escapes_the_incident_name(
    components, incident, acme_client, priorities, calendars
):
    incident("<script>alert(1)</script>")
    page = acme_client.get("/portal/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_an_agent_links_a_case_from_the_case_page(components, incident, alice, agent, open_case):
    made = incident("Logins fail")
    case = open_case(alice, "High", subject="Cannot log in")
    desk = Client()
    desk.force_login(agent)
    page = desk.get(f"/desk/cases/{case.reference}/").content.decode()
    assert 'data-testid="case-incidents"' in page and "Logins fail" in page
    response = desk.post(
        "/desk/status/link-case/",
        {"incident": made.public_id, "reference": case.reference, "next": "case"},
    )
    assert response.status_code == 302 and response["Location"] == f"/desk/cases/{case.reference}/"
    assert IncidentCase.objects.filter(incident=made, case=case).exists()
    # Linking twice is harmless.
    desk.post("/desk/status/link-case/", {"incident": made.public_id, "reference": case.reference})
    assert IncidentCase.objects.count() == 1
    incident_page = desk.get(f"/desk/status/{made.public_id}/").content.decode()
    assert case.reference in incident_page


@pytest.mark.parametrize(
    "data",
    [
        {"incident": "nope", "reference": "CD-1001"},
        {"incident": "", "reference": ""},
        {"reference": "CD-99999"},
    ],
)
def test_linking_nonsense_is_404(components, incident, agent, data):
    desk = Client()
    desk.force_login(agent)
    made = incident()
    data = {**data}
    data.setdefault("incident", made.public_id)
    assert desk.post("/desk/status/link-case/", data).status_code in (400, 404)
    assert not IncidentCase.objects.exists()


def test_customers_cannot_link_cases(components, incident, alice, open_case, acme_client):
    made = incident()
    case = open_case(alice, "High")
    response = acme_client.post(
        "/desk/status/link-case/", {"incident": made.public_id, "reference": case.reference}
    )
    assert response.status_code == 404
    assert not IncidentCase.objects.exists()
    with pytest.raises(services.StatusError):
        services.link_case(made, case, alice)


def test_resolving_tells_each_linked_requester_once_as_the_resolving_agent(
    components, incident, alice, bob, agent, open_case, run_tasks, mailoutbox, settings
):
    made = incident("Logins fail")
    acme = open_case(alice, "High", subject="Cannot log in")
    globex = open_case(bob, "Medium", subject="Login page broken")
    closed = open_case(alice, "Low", subject="Old")
    cases.change_status(closed, "closed", agent)
    for case in (acme, globex, closed):
        services.link_case(made, case, agent)
    run_tasks()
    mailoutbox.clear()
    services.post_update(made, services.Posting("resolved", "Fixed."), agent)
    run_tasks()
    for case in (acme, globex):
        replies = list(case.events.filter(kind=EventKind.REPLY))
        assert len(replies) == 1
        assert replies[0].author == agent and replies[0].public
        assert "Logins fail" in replies[0].body and made.public_id in replies[0].body
    assert not closed.events.filter(kind=EventKind.REPLY).exists()
    assert {m.to[0] for m in mailoutbox if "Logins fail" in m.body} >= {
        "alice@acme.example",
        "bob@globex.example",
    }
    # A second resolution (postmortem) or a repeated task tells nobody again.
    services.post_update(made, services.Posting("postmortem", "What happened."), agent)
    assert services.tell_linked_cases(made.pk, agent.pk) == 0
    run_tasks()
    assert acme.events.filter(kind=EventKind.REPLY).count() == 1


def test_each_requester_sees_only_their_own_case_reply(
    components, incident, alice, bob, agent, open_case, run_tasks
):
    made = incident("Logins fail")
    globex = open_case(bob, "Medium", subject="Globex secret subject")
    services.link_case(made, globex, agent)
    services.post_update(made, services.Posting("resolved", "Fixed."), agent)
    run_tasks()
    client = Client()
    client.force_login(alice)
    assert client.get(f"/portal/cases/{globex.reference}/").status_code == 404
    assert "Globex secret subject" not in Client().get(made.get_absolute_url()).content.decode()


def test_linking_a_case_to_a_resolved_incident_is_refused_and_says_why(
    components, incident, alice, agent, open_case
):
    made = incident("Logins fail")
    services.post_update(made, services.Posting("resolved", "Fixed."), agent)
    case = open_case(alice, "High", subject="Cannot log in")
    desk = Client()
    desk.force_login(agent)
    response = desk.post(
        "/desk/status/link-case/", {"incident": made.public_id, "reference": case.reference}
    )
    assert response.status_code == 400
    assert "already resolved" in response.content.decode()
    response = desk.post(
        "/desk/status/link-case/",
        {"incident": made.public_id, "reference": case.reference, "next": "case"},
        follow=True,
    )
    assert "already resolved" in response.content.decode()
    assert not IncidentCase.objects.exists()
    with pytest.raises(services.StatusError):
        services.link_case(made, case, agent)
