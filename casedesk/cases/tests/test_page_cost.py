"""The hot pages (desk queue, desk case page, portal list) stay cheap and say the same.

Their rows are computed in Python (``cases.presenters``) instead of by per-row template
lookups, ``{% url %}`` and ``|date``. These tests pin that the rendered rows mean exactly
what the templates rendered before (the old row markup is kept here and rendered against
the same cases), in the viewer's zone across a DST change, that the pages stay CSP-clean,
that the portal list shows one organization only, and that the number of queries does not
grow with the page (10 and 50 rows).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.template import engines
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from casedesk.accounts.models import User
from casedesk.cases import presenters, services
from casedesk.cases.desk_views import QUEUE_ORDER
from casedesk.cases.models import Case
from casedesk.hours.services import current_calendar

# US clocks went forward on Sunday 9 March 2025 at 08:00 UTC (02:00 CST -> 03:00 CDT).
BEFORE_DST = datetime(2025, 3, 9, 7, 30, tzinfo=UTC)  # 01:30 CST
AFTER_DST = datetime(2025, 3, 9, 8, 30, tzinfo=UTC)  # 03:30 CDT
NOW = datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
CHICAGO = "America/Chicago"

# The rows as the templates rendered them before the presenters (the reference output).
OLD_QUEUE_ROW = """{% for row in rows %}{% with case=row.case %}
  <tr class="urgency-{{ row.urgency }}" data-reference="{{ case.reference }}" data-urgency="{{ row.urgency }}">
    <td><a href="{% url 'desk:case' case.reference %}">{{ case.reference }}</a></td>
    <td>{{ case.subject }}{% if case.after_hours_alarm %} <span class="tag alarm">after hours</span>{% endif %}</td>
    <td>{{ case.organization.name }}</td>
    <td>{{ case.requester.full_name|default:case.requester.email }}{% if case.unverified_sender %} <span class="tag unverified" data-testid="sender-not-verified" title="Sender not verified: check with the requester before acting on a critical request (see the case).">sender not verified</span>{% endif %}{% if case.requester.full_name %}<br><span class="muted">{{ case.requester.email }}</span>{% endif %}</td>
    <td><span class="priority{% if case.priority.is_critical %} critical{% endif %}">{{ case.priority.name }}</span></td>
    <td>{{ case.get_status_display }}</td>
    <td>{% if case.assignee %}{{ case.assignee.full_name|default:case.assignee.email }}{% else %}<span class="muted">unassigned</span>{% endif %}</td>
    <td class="due-cell">{% include "cases/desk/_due.html" with due=case.next_due countdown=row.countdown %}
      {% if case.any_breach %}<span class="tag alarm">breached</span>{% endif %}</td>
  </tr>
  {% endwith %}{% endfor %}"""

OLD_PORTAL_ROW = """{% for case in cases %}
    <tr class="status-{{ case.status }}">
      <td class="reference"><a href="{% url 'portal:case' case.reference %}">{{ case.reference }}</a></td>
      <td class="subject">{{ case.subject }}</td>
      <td><span class="priority{% if case.priority.is_critical %} critical{% endif %}">{{ case.priority.name }}</span></td>
      <td><span class="status {{ case.status }}">{{ case.get_status_display }}</span></td>
      <td class="requester">{{ case.requester.get_full_name }}</td>
      <td class="opened"><time datetime="{{ case.opened_at.isoformat }}">{{ case.opened_at|date:"j M Y, H:i" }}</time></td>
      <td class="updated"><span class="when">updated </span><time datetime="{{ case.updated_at.isoformat }}">{{ case.updated_at|date:"j M Y, H:i" }}</time></td>
    </tr>
    {% endfor %}"""

OLD_DUE = '{% include "cases/desk/_due.html" with due=case.next_due %}'
OLD_EVENT_BYLINE = """{% for entry in timeline %}{% with event=entry.event %}
      <span class="muted">{% if event.author %}{{ event.author.full_name|default:event.author.email }}{% else %}casedesk{% endif %},
      <time datetime="{{ event.at|date:'c' }}">{{ event.at|date:"D M j, H:i T" }}</time></span>
{% endwith %}{% endfor %}"""
OLD_OTHER_OPEN = """{% for other in other_open %}
    <li><a href="{% url 'desk:case' other.reference %}">{{ other.reference }}</a> {{ other.subject }}
      <span class="muted">{{ other.priority.name }}, {{ other.get_status_display }}{% if other.assignee %}, {{ other.assignee.email }}{% endif %}</span></li>
  {% endfor %}"""
BYLINE = re.compile(r'<span class="muted">[^<]*,\s*<time datetime="[^"]*">[^<]*</time></span>')


def squeezed(html: str) -> str:
    """Whitespace runs as one space: the markup's meaning, not its indentation."""
    return " ".join(html.split())


def table_rows(html: str, marker: str) -> list[str]:
    return [squeezed(row) for row in re.findall(rf'<tr class="(?:{marker}).*?</tr>', html, re.S)]


def old_rows(template: str, zone: str, **context: Any) -> list[str]:
    with timezone.override(zone):
        html = engines["django"].from_string(template).render(context)
    return table_rows(html, "urgency-|status-")


def set_fields(case: Case, **fields: Any) -> Case:
    Case.objects.filter(pk=case.pk).update(**fields)
    return Case.objects.select_related("priority", "organization", "requester", "assignee").get(
        pk=case.pk
    )


@pytest.fixture
def varied(
    open_case: Any, alice: Any, bob: Any, agent: Any, priorities: dict[str, Any]
) -> list[Case]:
    """Cases that between them use every cell and badge of the queue."""
    with time_machine.travel(NOW, tick=False):
        nameless = User.objects.create_user(
            "nameless@acme.example", "x", role="customer", organization=alice.organization
        )
        cases = [
            open_case(alice, "Critical", subject="Database <down> & out"),
            open_case(bob, "High", subject="Exports fail"),
            open_case(nameless, "Low", subject="Invoice typo"),
            open_case(alice, "Medium", subject="No clock"),
        ]
        services.assign(cases[1], agent, agent)
    return [
        set_fields(cases[0], next_due=BEFORE_DST, unverified_sender=True, after_hours_alarm=True),
        set_fields(cases[1], next_due=AFTER_DST, first_response_breached=True),
        set_fields(cases[2], next_due=NOW + timedelta(minutes=30)),
        set_fields(cases[3], next_due=None),
    ]


@pytest.fixture
def chicago_desk(agent: Any) -> Client:
    agent.time_zone = CHICAGO
    agent.save(update_fields=["time_zone"])
    client = Client()
    client.force_login(agent)
    return client


# ---- The desk queue -----------------------------------------------------------------------


def test_queue_rows_say_what_the_template_said_in_the_viewers_zone_across_dst(
    chicago_desk: Client, varied: list[Case]
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = chicago_desk.get(reverse("desk:queue"))
        rows = response.context["rows"]
        expected = old_rows(OLD_QUEUE_ROW, CHICAGO, rows=rows)
    html = response.content.decode()
    assert table_rows(html, "urgency-") == expected
    assert len(expected) == 4
    # The cells themselves, so the comparison above cannot pass on two empty lists.
    assert 'datetime="2025-03-09T01:30:00-06:00"' in html and "Sun Mar 9, 01:30 CST" in html
    assert 'datetime="2025-03-09T03:30:00-05:00"' in html and "Sun Mar 9, 03:30 CDT" in html
    assert "Database &lt;down&gt; &amp; out" in html
    assert 'data-testid="sender-not-verified"' in html and "after hours</span>" in html
    assert "breached</span>" in html and "Sam Agent" in html
    assert "nameless@acme.example" in html and "no clock running" in html


def test_queue_rows_are_the_same_in_the_servers_zone(desk: Client, varied: list[Case]) -> None:
    with time_machine.travel(NOW, tick=False):
        response = desk.get(reverse("desk:queue"))
        expected = old_rows(
            OLD_QUEUE_ROW, timezone.get_default_timezone_name(), rows=response.context["rows"]
        )
    assert table_rows(response.content.decode(), "urgency-") == expected


@pytest.mark.parametrize("script_name", ["", "/CD-0/desk"])
def test_the_lists_build_each_case_link_as_reverse_would(
    varied: list[Case], script_name: str
) -> None:
    """Also under a script prefix (a sub-path deployment) that happens to hold the marker."""
    set_script_prefix(script_name + "/")
    try:
        for viewname in ("desk:case", "portal:case"):
            url = presenters.reference_urls(viewname)
            references = [case.reference for case in varied] + ["CD-1001", "CD-999999999999"]
            for reference in references:
                assert url(reference) == reverse(viewname, args=[reference])
    finally:
        clear_script_prefix()


def test_the_queue_costs_the_same_queries_at_10_and_50_rows(
    desk: Client, open_case: Any, alice: Any, bob: Any, agent: Any, settings: Any
) -> None:
    for i in range(55):
        case = open_case(alice if i % 2 else bob, "Low", subject=f"case {i}")
        if i % 3 == 0:
            services.assign(case, agent, agent)
    counts = {}
    for size in (10, 50):
        settings.CASES_PER_PAGE = size
        desk.get(reverse("desk:queue"))  # warm: the calendar, the status version
        with CaptureQueriesContext(connection) as captured:
            response = desk.get(reverse("desk:queue"))
        assert len(response.context["rows"]) == size
        counts[size] = len(captured)
    assert counts[10] == counts[50]


def test_the_desk_reads_its_choice_lists_without_server_side_cursors(
    desk: Client, open_case: Any, alice: Any
) -> None:
    """Django reads a form's choice list (the queue's organizations and agents, a case's
    priorities) with ``.iterator()``: on PostgreSQL that declared a server-side cursor,
    three round trips for a dozen rows. (On SQLite every cursor is a plain one.)"""
    case = open_case(alice, "Critical", subject="Down")
    server_side = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if getattr(context["cursor"].cursor, "name", None):  # psycopg's ServerCursor
            server_side.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        queue = desk.get(reverse("desk:queue"))
        page = desk.get(reverse("desk:case", args=[case.reference]))
    assert "Any organization" in queue.content.decode()
    assert 'name="assignee"' in page.content.decode()
    assert server_side == []


# ---- The desk case page -------------------------------------------------------------------


def test_the_case_pages_deadline_says_what_the_template_said(
    chicago_desk: Client, varied: list[Case]
) -> None:
    for case in varied:
        with time_machine.travel(NOW, tick=False):
            response = chicago_desk.get(reverse("desk:case", args=[case.reference]))
            with timezone.override(CHICAGO):
                old = (
                    engines["django"]
                    .from_string(OLD_DUE)
                    .render({"case": case, "countdown": presenters.countdown(case.next_due, NOW)})
                )
        html = response.content.decode()
        cell = re.search(r'<dt>Next deadline</dt><dd class="due-cell">(.*?)</dd>', html, re.S)
        assert cell is not None
        assert squeezed(cell.group(1)) == squeezed(old)
    assert "Sun Mar 9, 01:30 CST" in squeezed(
        chicago_desk.get(reverse("desk:case", args=[varied[0].reference])).content.decode()
    )


def test_the_case_pages_timeline_and_other_cases_say_what_the_template_said(
    chicago_desk: Client, varied: list[Case], agent: Any, alice: Any
) -> None:
    first = varied[0]
    with time_machine.travel(BEFORE_DST, tick=False):
        services.add_reply(first, agent, "Before the change")
    with time_machine.travel(AFTER_DST, tick=False):
        services.add_reply(first, alice, "After the change")
        services.add_note(first, agent, "A note")
    response = chicago_desk.get(reverse("desk:case", args=[first.reference]))
    html = response.content.decode()
    timeline = html[html.index('data-testid="timeline"') : html.index('id="timeline-end"')]
    events = first.events.select_related("author").order_by("at", "pk")
    with timezone.override(CHICAGO):
        old = (
            engines["django"]
            .from_string(OLD_EVENT_BYLINE)
            .render({"timeline": [{"event": event} for event in events]})
        )
        others = (
            Case.objects.filter(organization=first.organization, status__in=["new", "open"])
            .exclude(pk=first.pk)
            .select_related("priority", "assignee")
            .order_by(*QUEUE_ORDER)
        )
        old_others = engines["django"].from_string(OLD_OTHER_OPEN).render({"other_open": others})
    assert [squeezed(b) for b in BYLINE.findall(timeline)] == [
        squeezed(b) for b in BYLINE.findall(old)
    ]
    assert len(BYLINE.findall(timeline)) == events.count() >= 4
    assert "Sam Agent," in squeezed(timeline) and "casedesk," in squeezed(timeline)
    assert "Sun Mar 9, 01:30 CST" in timeline and "Sun Mar 9, 03:30 CDT" in timeline
    listed = re.search(r'<ul class="other-open">(.*?)</ul>', html, re.S)
    assert listed is not None and others.count() == 2
    assert squeezed(listed.group(1)) == squeezed(old_others)


def test_the_downgrade_count_is_counted_only_where_the_downgrade_form_shows_it(
    desk: Client, open_case: Any, alice: Any, agent: Any, priorities: dict[str, Any]
) -> None:
    downgraded = open_case(alice, "Critical", subject="Was critical")
    services.downgrade(downgraded, priorities["High"], agent, "One office only")
    critical = open_case(alice, "Critical", subject="Still critical")
    low = open_case(alice, "Low", subject="Not critical")

    def counts(captured: CaptureQueriesContext) -> list[str]:
        return [q["sql"] for q in captured if "COUNT(" in q["sql"] and "downgrade" in q["sql"]]

    with CaptureQueriesContext(connection) as captured:
        html = desk.get(reverse("desk:case", args=[critical.reference])).content.decode()
    assert "Acme has had 1 critical case downgraded." in squeezed(html)
    assert len(counts(captured)) == 1
    with CaptureQueriesContext(connection) as captured:
        html = desk.get(reverse("desk:case", args=[low.reference])).content.decode()
    assert 'data-testid="downgrades"' not in html
    assert counts(captured) == []
    refused = desk.post(reverse("desk:downgrade", args=[low.reference]), {"reason": ""})
    assert refused.status_code == 400
    assert "Acme has had 1 critical case downgraded." in squeezed(refused.content.decode())


# ---- The portal list ----------------------------------------------------------------------


@pytest.fixture
def acme_cases(open_case: Any, alice: Any, bob: Any, agent: Any) -> list[Case]:
    made = []
    for i, opened in enumerate([BEFORE_DST, AFTER_DST, NOW]):
        with time_machine.travel(opened, tick=False):
            made.append(open_case(alice, "Critical" if i == 0 else "Low", subject=f"Acme <{i}>"))
    with time_machine.travel(AFTER_DST, tick=False):
        services.change_status(made[2], "pending", agent, "Asked for the logs")
        open_case(bob, "High", subject="Globex only")
    return made


def portal_client(person: Any, zone: str = "") -> Client:
    person.time_zone = zone
    person.save(update_fields=["time_zone"])
    client = Client()
    client.force_login(person)
    return client


@pytest.mark.parametrize("zone", [CHICAGO, "Asia/Tokyo", ""])
def test_portal_rows_say_what_the_template_said_in_the_viewers_zone(
    alice: Any, acme_cases: list[Case], zone: str
) -> None:
    client = portal_client(alice, zone)
    html = client.get(reverse("portal:home"), {"status": "all"}).content.decode()
    cases = (
        Case.objects.filter(organization=alice.organization)
        .select_related("priority", "requester")
        .order_by("-opened_at", "-pk")
    )
    shown = zone or current_calendar().zone.key  # no zone told: the calendar's
    assert table_rows(html, "status-") == old_rows(OLD_PORTAL_ROW, shown, cases=cases)
    assert len(acme_cases) == 3 == len(table_rows(html, "status-"))
    if zone == CHICAGO:
        assert "9 Mar 2025, 01:30" in html and "9 Mar 2025, 03:30" in html
    assert f'datetime="{BEFORE_DST.isoformat()}"' in html  # the instant, as before
    assert "Acme &lt;0&gt;" in html


def test_the_portal_list_shows_only_the_viewers_organization(
    alice: Any, bob: Any, acme_cases: list[Case]
) -> None:
    html = portal_client(alice).get(reverse("portal:home"), {"status": "all"}).content.decode()
    assert "Globex only" not in html
    assert all(case.reference in html for case in acme_cases)
    theirs = portal_client(bob).get(reverse("portal:home"), {"status": "all"}).content.decode()
    assert "Globex only" in theirs
    assert not any(case.reference in theirs for case in acme_cases)


def test_the_portal_list_costs_the_same_queries_at_10_and_50_rows(
    alice: Any, open_case: Any, settings: Any
) -> None:
    for i in range(52):
        open_case(alice, "Low", subject=f"Question {i}")
    client = portal_client(alice, CHICAGO)
    counts = {}
    for size in (10, 50):
        settings.CASES_PER_PAGE = size
        client.get(reverse("portal:home"))
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("portal:home"))
        assert len(response.context["rows"]) == size
        counts[size] = len(captured)
    assert counts[10] == counts[50]


def test_a_viewer_without_a_zone_costs_no_extra_query(alice: Any, acme_cases: list[Case]) -> None:
    """The calendar is asked once, for the banner and for the zone of someone who set none."""
    counts = {}
    for zone in (CHICAGO, ""):
        client = portal_client(alice, zone)
        client.get(reverse("portal:home"))
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("portal:home"))
        counts[zone] = len(captured)
    assert counts[""] == counts[CHICAGO]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "nonsense"},
        {"page": "-3"},
        {"page": "99999999999999999999"},
        {"status": "<script>alert(1)</script>"},
        {"status": "all", "page": "\x00"},
    ],
)
def test_the_portal_list_shrugs_off_garbage_in_its_query(
    alice: Any, acme_cases: list[Case], params: dict[str, str]
) -> None:
    response = portal_client(alice).get(reverse("portal:home"), params)
    assert response.status_code == 200
    assert b"<script>alert" not in response.content


@pytest.mark.parametrize(
    "params",
    [{"page": "nonsense"}, {"page": "-1"}, {"q": "<b>CD-</b>\x00"}, {"q": "CD-99999999999"}],
)
def test_the_queue_shrugs_off_garbage_in_its_query(
    desk: Client, varied: list[Case], params: dict[str, str]
) -> None:
    response = desk.get(reverse("desk:queue"), params)
    assert response.status_code == 200
    assert b"<b>CD-" not in response.content


# ---- Every hot page is CSP-clean ----------------------------------------------------------

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_the_hot_pages_carry_no_inline_script_or_style(
    chicago_desk: Client, alice: Any, varied: list[Case]
) -> None:
    pages = [
        chicago_desk.get(reverse("desk:queue")),
        chicago_desk.get(reverse("desk:case", args=[varied[0].reference])),
        portal_client(alice).get(reverse("portal:home"), {"status": "all"}),
    ]
    for response in pages:
        assert response.status_code == 200
        assert INLINE.findall(response.content.decode()) == []


# ---- The date text is the |date filter's ---------------------------------------------------


@pytest.mark.parametrize("zone", [CHICAGO, "UTC", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_date_text_is_what_the_date_filter_writes(zone: str) -> None:
    template = engines["django"].from_string("{{ value|date:style }}")
    values = [BEFORE_DST, AFTER_DST, NOW, datetime(2025, 11, 2, 6, 30, 15, 250, tzinfo=UTC)]
    with timezone.override(zone):
        dates = presenters.DateText()
        for value in values:
            for style in ("c", presenters.DUE_FORMAT, presenters.PORTAL_LIST_FORMAT):
                expected = template.render({"value": value, "style": style})
                assert dates(value, style) == expected
                assert dates(value, style) == expected  # the remembered text: the same
            assert dates.iso(value) == template.render({"value": value, "style": "c"})
    assert presenters.DateText()(None, "c") == presenters.DateText().iso(None) == ""
