"""The desk's on-call pages: who is on call now and next (across a clock change), the
two-week calendar, gaps, the iCalendar feeds behind tokens, and staff-only access."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.core import mail
from django.test import Client

from casedesk.oncall import tasks
from casedesk.oncall.models import FeedToken, Layer, LayerMember, Override

CT = ZoneInfo("America/Chicago")


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


@pytest.fixture
def desk(agent):
    """Sam's browser, in Central time; log in again after travelling (sessions expire)."""

    class Desk(Client):
        def get(self, *args, **kwargs):
            self.force_login(agent)
            return super().get(*args, **kwargs)

        def post(self, *args, **kwargs):
            self.force_login(agent)
            return super().post(*args, **kwargs)

    client = Desk()
    client.cookies["casedesk_tz"] = "America/Chicago"
    return client


@pytest.fixture
def weekly(team):
    """The primary layer rotates Pat and Kim weekly, Mondays 09:00 Central."""
    layer = Layer.objects.get(schedule=team["schedule"], position=0)
    layer.every_days = 7
    layer.start_date = datetime(2026, 1, 5).date()
    layer.save()
    LayerMember.objects.create(layer=layer, person=team["kim"], position=1)
    return layer


def test_the_board_shows_who_is_on_call_now_and_next_across_the_spring_change(weekly, team, desk):
    # Sunday 8 March 2026, the night the clocks spring forward; Monday 09:00 CDT hands off.
    with at(datetime(2026, 3, 8, 23, 0, tzinfo=CT)):
        page = desk.get("/desk/oncall/").content.decode()
    rota = page[page.index("Who is on call") :]
    row = rota[rota.index("<td>Primary</td>") : rota.index("</tr>", rota.index("<td>Primary</td>"))]
    # The shift of 2 March is the 9th since 5 January: Pat's; Kim's from Monday 09:00 CDT.
    assert "Pat Primary" in row.split("<td>")[2]
    assert "Kim Secondary" in row.split("<td>")[3] and "Mon 9 Mar 09:00" in row


def test_an_override_shows_on_the_board_and_in_the_calendar(weekly, team, desk):
    saturday = datetime(2026, 12, 5, 0, 0, tzinfo=CT)
    Override.objects.create(
        layer=weekly, person=team["avery"], start=saturday, end=saturday + timedelta(days=1)
    )
    with at(saturday + timedelta(hours=10)):
        board = desk.get("/desk/oncall/").content.decode()
        calendar = desk.get(f"/desk/oncall/schedules/{team['schedule'].pk}/").content.decode()
    assert "Avery Admin" in board and "override" in board
    assert calendar.count('data-testid="week"') == 2
    saturday_cell = calendar[calendar.index("Sat 5 Dec") : calendar.index("Sun 6 Dec")]
    assert "Avery Admin (override)" in saturday_cell and "00:00–24:00" in saturday_cell


def test_a_gap_is_reported_on_the_board_and_mailed_to_the_admins_a_week_ahead(
    team, desk, mailoutbox
):
    layer = Layer.objects.get(schedule=team["schedule"], position=1)
    layer.ends_at = datetime(2026, 12, 10, 9, 0, tzinfo=CT)  # Kim's layer stops
    layer.save()
    with at(datetime(2026, 12, 1, 12, 0, tzinfo=CT)):
        board = desk.get("/desk/oncall/").content.decode()
        assert tasks.mail_schedule_gaps.call() == 1
    gaps = board[board.index("Gaps in the next two weeks") :]
    assert "Secondary: Thu 10 Dec 09:00" in gaps and "covered by the fallback Avery Admin" in gaps
    [message] = mailoutbox
    assert message.to == ["admin@example.com"] and "gaps" in message.subject
    assert "Secondary: Thu 10 Dec 09:00" in message.body


def test_no_gap_no_mail(team):
    with at(datetime(2026, 12, 1, 12, 0, tzinfo=CT)):
        assert tasks.mail_schedule_gaps.call() == 0
    assert mail.outbox == []


def test_the_schedule_feed_is_valid_icalendar_with_the_shifts(team):
    with at(datetime(2026, 12, 1, 12, 0, tzinfo=CT)):
        response = Client().get(f"/oncall/feeds/schedule/{team['schedule'].feed_token}.ics")
    assert response["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    events = [e for e in cal.walk("VEVENT")]
    summaries = {str(e["SUMMARY"]) for e in events}
    assert "On call (Primary): Pat Primary" in summaries
    starts = [e.decoded("DTSTART").astimezone(CT) for e in events]
    assert all(s.time() == time(9) for s in starts[1:] if s.date() != starts[0].date())


def test_a_personal_feed_holds_only_that_persons_shifts_and_can_be_renewed(team, desk, agent):
    desk.post("/desk/oncall/feed/")
    first = FeedToken.objects.get(person=agent).token
    LayerMember.objects.filter(person=team["pat"]).update(person=agent)
    with at(datetime(2026, 12, 1, 12, 0, tzinfo=CT)):
        data = Client().get(f"/oncall/feeds/person/{first}.ics").content
    summaries = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}
    assert summaries == {"On call (Primary): Sam Agent"}
    desk.post("/desk/oncall/feed/")
    assert Client().get(f"/oncall/feeds/person/{first}.ics").status_code == 404


@pytest.mark.parametrize("token", ["", "short", "x" * 40, "../../etc/passwd", "%00"])
def test_a_wrong_feed_token_is_not_found(team, token):
    assert Client().get(f"/oncall/feeds/schedule/{token}.ics").status_code == 404
    assert Client().get(f"/oncall/feeds/person/{token}.ics").status_code == 404


@pytest.mark.parametrize(
    "url", ["/desk/oncall/", "/desk/oncall/report/", "/desk/oncall/schedules/1/"]
)
def test_customers_get_a_404_and_strangers_the_login_page(team, alice, url):
    customer = Client()
    customer.force_login(alice)
    assert customer.get(url).status_code == 404
    stranger = Client().get(url)
    assert stranger.status_code == 302 and "/accounts/login/" in stranger["Location"]


def test_the_board_lists_open_critical_cases_with_their_remaining_time(
    team, alice, open_case, desk, standin, run_tasks
):
    night = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
    with at(night):
        case = open_case(alice, "Critical", subject="Logins fail")
        run_tasks()
    with at(night + timedelta(minutes=25)):
        board = desk.get("/desk/oncall/").content.decode()
    clocks = board[board.index('data-testid="clocks"') :]
    assert case.reference in clocks and "95 minutes left" in clocks
    pages = board[board.index('data-testid="pages"') :]
    assert "Acknowledge" in pages and "escalating" in pages
    assert 'data-testid="sender-not-verified"' not in board


def test_the_board_marks_a_critical_case_whose_mail_sender_was_not_verified(
    team, alice, open_case, desk, standin, run_tasks
):
    night = datetime(2026, 12, 2, 2, 0, tzinfo=CT)
    with at(night):
        case = open_case(alice, "Critical", subject="Logins fail")
        case.unverified_sender = True  # as the mail pipeline opens it (issue 17)
        case.save(update_fields=["unverified_sender"])
        run_tasks()
    with at(night + timedelta(minutes=25)):
        board = desk.get("/desk/oncall/").content.decode()
    for table in ("clocks", "pages"):
        rows = board[board.index(f'data-testid="{table}"') :]
        rows = rows[: rows.index("</table>")]
        assert case.reference in rows and 'data-testid="sender-not-verified"' in rows, table


def test_an_admin_renews_a_schedule_feed_address_and_the_old_one_stops(team):
    schedule = team["schedule"]
    old = schedule.feed_token
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(team["avery"])
    page = admin.get(f"/desk/oncall/schedules/{schedule.pk}/").content.decode()
    assert 'data-testid="renew-feed"' in page
    csrf = admin.cookies["csrftoken"].value
    response = admin.post(
        f"/desk/oncall/schedules/{schedule.pk}/feed/", {"csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.feed_token != old
    assert Client().get(f"/oncall/feeds/schedule/{old}.ics").status_code == 404
    assert Client().get(f"/oncall/feeds/schedule/{schedule.feed_token}.ics").status_code == 200


def test_renewing_a_schedule_feed_needs_an_admin_a_post_and_csrf(team, desk):
    schedule = team["schedule"]
    old = schedule.feed_token
    path = f"/desk/oncall/schedules/{schedule.pk}/feed/"
    assert 'data-testid="renew-feed"' not in desk.get(path.removesuffix("feed/")).content.decode()
    assert desk.post(path).status_code == 403  # an agent
    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.force_login(team["avery"])
    assert no_csrf.post(path).status_code == 403
    admin = Client()
    admin.force_login(team["avery"])
    assert admin.get(path).status_code == 405
    assert admin.post("/desk/oncall/schedules/999999/feed/").status_code == 404
    schedule.refresh_from_db()
    assert schedule.feed_token == old
