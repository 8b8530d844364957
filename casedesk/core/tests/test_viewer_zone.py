"""Pages show times in the viewer's own zone, told by the browser in a cookie;
a cookie that is not a real zone name is ignored."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

pytestmark = pytest.mark.django_db

WINTER = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
SUMMER = dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root@example.com", "pw-for-tests")
    client.force_login(user)
    return client


def utc_offset_shown(client):
    html = client.get("/admin/hours/calendar/").content.decode()
    return html.split('data-admin-utc-offset="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("zone", "when", "offset"),
    [
        ("Europe/Berlin", WINTER, "3600"),
        ("Europe/Berlin", SUMMER, "7200"),
        ("America/Chicago", WINTER, "-21600"),
        ("Asia/Kathmandu", WINTER, "20700"),
        ("America%2FArgentina%2FBuenos_Aires", WINTER, "-10800"),
    ],
)
def test_the_admin_renders_times_in_the_viewers_zone(admin_client, zone, when, offset):
    admin_client.cookies["casedesk_tz"] = zone
    with time_machine.travel(when, tick=False):
        assert utc_offset_shown(admin_client) == offset


@pytest.mark.parametrize("garbage", ["Mars/Olympus_Mons", "../../etc/passwd", "", "UTC; drop"])
def test_a_cookie_that_is_not_a_zone_name_falls_back_to_utc(admin_client, garbage):
    admin_client.cookies["casedesk_tz"] = garbage
    assert utc_offset_shown(admin_client) == "0"


def test_every_page_tells_the_server_the_viewers_zone(client):
    for url in ("/", "/hours/", "/accounts/login/", "/help/"):
        assert b"core/viewer-zone.js" in client.get(url).content, url


def test_a_persons_chosen_zone_wins_over_the_browsers(admin_client, django_user_model):
    person = django_user_model.objects.get(email="root@example.com")
    person.time_zone = "Asia/Kathmandu"
    person.save()
    admin_client.cookies["casedesk_tz"] = "Europe/Berlin"
    with time_machine.travel(WINTER, tick=False):
        assert utc_offset_shown(admin_client) == "20700"


def test_a_zone_that_does_not_exist_is_refused_on_the_person(django_user_model):
    from django.core.exceptions import ValidationError

    person = django_user_model(email="x@example.com", role="agent", time_zone="Mars/Base")
    with pytest.raises(ValidationError, match="tz database"):
        person.full_clean(exclude=["password"])
