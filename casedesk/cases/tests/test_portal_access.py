"""Who reaches the portal, and the support-hours banner every portal page carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

pytestmark = pytest.mark.django_db

TUESDAY_MORNING = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 10:30 CST
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 09:00 CST, closed
PORTAL_PAGES = ["portal:home", "portal:new"]


@pytest.fixture
def alices_case(open_case, alice):
    return open_case(alice, "Medium", subject="Reports are slow")


def all_pages(case):
    return [reverse(name) for name in PORTAL_PAGES] + [
        reverse("portal:case", args=[case.reference]),
        reverse("portal:opened", args=[case.reference]),
    ]


@pytest.mark.parametrize("who", ["agent", "admin"])
def test_staff_visiting_the_portal_are_sent_to_the_desk(client, request, who):
    client.force_login(request.getfixturevalue(who))
    for name in PORTAL_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"] == reverse("desk:queue")


def test_staff_following_a_portal_case_link_land_on_the_desks_case(client, agent, alices_case):
    client.force_login(agent)
    response = client.get(reverse("portal:case", args=[alices_case.reference]))
    assert response["Location"] == reverse("desk:case", args=[alices_case.reference])


def test_staff_cannot_reply_as_a_customer_through_the_portal(client, agent, alices_case):
    client.force_login(agent)
    response = client.post(reverse("portal:reply", args=[alices_case.reference]), {"body": "x"})
    assert response.status_code == 302
    assert alices_case.events.count() == 1


def test_the_login_page_brings_a_customer_back_to_the_portal_page_they_asked_for(client, db):
    response = client.get(reverse("portal:new"))
    assert response["Location"] == "/accounts/login/?next=/portal/new/"


def test_every_portal_page_says_support_is_open_until_the_close_in_central_time(
    client, alice, alices_case
):
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        client.force_login(alice)
        for url in all_pages(alices_case):
            html = client.get(url).content.decode()
            assert 'data-testid="hours-banner"' in html, url
            assert "Support is open until" in html and "19:00 CST" in html, url
            assert "your time)" not in html  # no zone of her own: support's is hers


def test_on_a_saturday_every_portal_page_says_when_support_reopens_and_who_is_served(
    client, alice, alices_case
):
    with time_machine.travel(SATURDAY, tick=False):
        client.force_login(alice)
        for url in all_pages(alices_case):
            html = " ".join(client.get(url).content.decode().split())
            assert "Support is closed; it reopens" in html, url
            assert "Monday 30 November, 07:00 CST" in html, url
            assert "Only critical cases get immediate attention." in html, url


def test_the_banner_shows_the_viewers_own_zone_beside_the_calendars(client, alice):
    alice.time_zone = "America/New_York"
    alice.save()
    with time_machine.travel(SATURDAY, tick=False):
        client.force_login(alice)
        html = " ".join(client.get(reverse("portal:home")).content.decode().split())
    assert "Monday 30 November, 07:00 CST" in html
    assert "(Monday 08:00 EST your time)" in html


def test_the_browsers_zone_cookie_is_used_when_the_account_has_none(client, alice):
    client.cookies["casedesk_tz"] = "Europe/Berlin"
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        client.force_login(alice)
        html = " ".join(client.get(reverse("portal:home")).content.decode().split())
    assert "19:00 CST" in html and "(02:00 CET your time)" in html


def test_portal_pages_refuse_methods_they_do_not_take(client, alice, alices_case):
    client.force_login(alice)
    assert client.post(reverse("portal:home")).status_code == 405
    assert client.post(reverse("portal:case", args=[alices_case.reference])).status_code == 405
    assert client.get(reverse("portal:reply", args=[alices_case.reference])).status_code == 405


def test_state_changes_need_the_csrf_token(alice, alices_case, priorities):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    reply = client.post(reverse("portal:reply", args=[alices_case.reference]), {"body": "hi"})
    new = client.post(reverse("portal:new"), {"subject": "x", "priority": priorities["Low"].pk})
    assert reply.status_code == new.status_code == 403
    assert alices_case.events.count() == 1
