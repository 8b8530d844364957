"""The public hours page and the JSON status: open now?, when it changes, holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

pytestmark = pytest.mark.django_db
CHICAGO = ZoneInfo("America/Chicago")


def at(year: int, month: int, day: int, hour: int, minute: int) -> time_machine.travel:
    """Freeze the clock at a wall-clock time in Chicago."""
    return time_machine.travel(
        dt.datetime(year, month, day, hour, minute, tzinfo=CHICAGO), tick=False
    )


def test_status_api_during_business_hours():
    from django.test import Client

    with at(2026, 12, 1, 10, 30):
        body = Client().get("/api/hours/status").json()
    assert body == {
        "open": True,
        "now": "2026-12-01T16:30:00+00:00",
        "next_open": "2026-12-01T16:30:00+00:00",
        "next_close": "2026-12-02T01:00:00+00:00",  # 19:00 CST
        "timezone": "America/Chicago",
        "calendar": "default",
    }


def test_status_api_on_christmas_eve_evening_points_to_monday_morning(client):
    with at(2026, 12, 24, 18, 0):
        body = client.get("/api/hours/status").json()
    assert body["open"] is False
    assert body["next_open"] == "2026-12-28T13:00:00+00:00"  # Monday 07:00 CST


def test_status_api_across_the_spring_change_uses_daylight_time(client):
    with at(2026, 3, 7, 12, 0):  # Saturday; clocks go forward on Sunday 8 March
        body = client.get("/api/hours/status").json()
    assert body["next_open"] == "2026-03-09T12:00:00+00:00"  # Monday 07:00 CDT = 12:00 UTC


def test_status_api_for_the_24x7_calendar_never_closes(client):
    body = client.get("/api/hours/status?calendar=24x7").json()
    assert body["open"] is True
    assert body["next_close"] is None
    assert body["calendar"] == "24x7"


def test_status_api_for_an_unknown_calendar_is_404_json(client):
    response = client.get("/api/hours/status?calendar=%3Cscript%3E")
    assert response.status_code == 404
    assert response.json() == {"error": "no calendar named '<script>'"}


def test_hours_page_shows_open_now_with_the_closing_time(client):
    with at(2026, 12, 1, 10, 30):
        html = client.get("/hours/").content.decode()
    assert "Open now" in html
    assert "Support closes" in html
    assert "Tuesday 1 December 2026, 19:00 CST" in html
    assert "Monday – Friday" in html and "07:00 – 19:00" in html
    assert "Saturday – Sunday" in html and "Closed" in html


def test_hours_page_on_thanksgiving_says_closed_and_when_support_reopens(client):
    with at(2026, 11, 26, 9, 0):
        html = client.get("/hours/").content.decode()
    assert "Closed now" in html
    assert "Support reopens" in html
    assert "Monday 30 November 2026, 07:00 CST" in html
    assert "Thanksgiving Day (today)" in html
    assert "Closed today for Thanksgiving Day." in html


def test_hours_page_lists_this_year_and_next_years_holidays(client):
    with at(2026, 11, 26, 9, 0):
        html = client.get("/hours/").content.decode()
    assert "Holidays 2026" in html and "Holidays 2027" in html
    assert "Fri 31 Dec 2027" in html  # New Year's Day 2028 observed


def test_one_years_holidays_have_their_own_page(client):
    html = client.get("/hours/2030/").content.decode()
    assert "Holidays 2030" in html
    assert "Holidays 2031" not in html
    assert "Thu 28 Nov 2030" in html  # Thanksgiving 2030


def test_a_far_future_year_is_computed_from_the_rules(client):
    html = client.get("/hours/2090/").content.decode()
    assert "Thu 23 Nov 2090" in html  # Thanksgiving 2090


@pytest.mark.parametrize("name", ["%00", "a%00b", "x" * 80, "../default", "default%0a"])
def test_a_calendar_name_that_is_not_a_name_is_not_found(client, name):
    assert client.get(f"/hours/?calendar={name}").status_code == 404
    assert client.get(f"/api/hours/status?calendar={name}").status_code == 404
    assert client.get(f"/hours/holidays.ics?calendar={name}").status_code == 404


def test_a_missing_default_calendar_is_named_in_the_error(client, settings):
    settings.CASEDESK_DEFAULT_CALENDAR = "missing"
    assert client.get("/api/hours/status").json() == {"error": "no calendar named 'missing'"}


def test_an_absurd_year_is_not_found(client):
    assert client.get("/hours/99999/").status_code == 404


def test_hours_pages_only_answer_reads(client):
    assert client.post("/hours/").status_code == 405
    assert client.post("/api/hours/status").status_code == 405


def test_holidays_export_as_an_icalendar_file(client):
    with at(2026, 6, 1, 12, 0):
        response = client.get("/hours/holidays.ics")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert "DTSTART;VALUE=DATE:20261126" in body
    assert "SUMMARY:Day after Thanksgiving" in body
    assert "DTSTART;VALUE=DATE:20250101" in body  # last year
    assert "DTSTART;VALUE=DATE:20281123" in body  # two years ahead
