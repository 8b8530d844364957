"""Opening a case through services.open_case: what it checks, records, and tells the customer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from casedesk.cases import services
from casedesk.cases.models import Case, Event, EventKind, Status
from casedesk.cases.signals import critical_case_opened_after_hours

CT = ZoneInfo("America/Chicago")
SATURDAY_NIGHT = datetime(2026, 11, 28, 2, 30, tzinfo=CT)
TUESDAY_MORNING = datetime(2026, 12, 1, 9, 0, tzinfo=CT)

pytestmark = pytest.mark.django_db


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


def test_a_channel_gets_the_opening_event_with_the_case_and_none_for_a_repeat(
    alice, priorities, calendars
):
    new = services.NewCase(
        requester=alice,
        subject="Export fails",
        priority=priorities["Medium"],
        confirm=False,
        submission_token="form-1",
    )
    case, opened = services.open_case_with_event(new)
    assert opened is not None and opened == case.events.get(kind=EventKind.OPENED)
    assert services.open_case_with_event(new) == (case, None)  # the same form posted again
    assert services.open_case(new) == case


def test_a_case_gets_a_cd_reference_and_an_opened_event(alice, open_case):
    case = open_case(alice, "Medium", subject="  Export   fails ", description="Since 9:00.")
    assert case.reference == f"CD-{case.pk + 1000}"
    assert case.subject == "Export fails"
    assert case.organization == alice.organization
    assert case.status == Status.NEW
    opened = case.events.get()
    assert (opened.kind, opened.public, opened.author, opened.body) == (
        EventKind.OPENED,
        True,
        alice,
        "Since 9:00.",
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"characteristics": "", "business_impact": "All down"}, "characteristics", "(a), (b)"),
        ({"characteristics": "a", "business_impact": "  "}, "business_impact", "business impact"),
        ({"characteristics": "x"}, "characteristics", "Unknown characteristic"),
        ({"subject": "   "}, "subject", "what is wrong"),
        ({"subject": "x" * 201}, "subject", "under 200"),
    ],
)
def test_a_critical_case_from_the_portal_must_say_why_it_is_critical(
    alice, priorities, fields, field, message
):
    new = services.NewCase(
        requester=alice,
        priority=priorities["Critical"],
        **{"subject": "Down", "characteristics": "c", "business_impact": "All down", **fields},
    )
    with pytest.raises(services.CaseError) as caught:
        services.open_case(new)
    assert message in " ".join(caught.value.errors[field])
    assert not Case.objects.exists()


def test_email_and_phone_cases_may_be_critical_before_anyone_asked_why(alice, priorities):
    case = services.open_case(
        services.NewCase(
            requester=alice, priority=priorities["Critical"], subject="DOWN", channel="email"
        )
    )
    assert case.characteristics == ""


def test_characteristics_are_kept_only_for_critical_cases(alice, open_case):
    critical = open_case(alice, "Critical", characteristics="ca")
    medium = open_case(alice, "Medium", characteristics="a", business_impact="x")
    assert critical.characteristics == "ac"
    assert [label[:3] for label in critical.characteristic_labels] == ["(a)", "(c)"]
    assert medium.characteristics == ""


def test_a_customer_cannot_open_a_case_for_another_organization(alice, globex, priorities):
    new = services.NewCase(
        requester=alice, organization=globex, priority=priorities["Low"], subject="Hi"
    )
    with pytest.raises(services.CaseError, match="does not belong"):
        services.open_case(new)


def test_a_critical_case_after_hours_raises_the_alarm_once_committed(
    alice, open_case, django_capture_on_commit_callbacks
):
    heard: list[Case] = []

    def listener(sender, case, **kwargs):
        heard.append(case)

    critical_case_opened_after_hours.connect(listener)
    try:
        with at(SATURDAY_NIGHT), django_capture_on_commit_callbacks(execute=True):
            case = open_case(alice, "Critical")
    finally:
        critical_case_opened_after_hours.disconnect(listener)
    assert heard == [case]
    alarm = case.events.get(kind=EventKind.AFTER_HOURS_CRITICAL)
    assert not alarm.public
    assert "2 hours" in alarm.body


def test_no_alarm_in_hours_or_for_other_priorities(
    alice, open_case, django_capture_on_commit_callbacks
):
    heard: list[Case] = []
    critical_case_opened_after_hours.connect(lambda sender, case, **kw: heard.append(case))
    with django_capture_on_commit_callbacks(execute=True):
        with at(TUESDAY_MORNING):
            open_case(alice, "Critical")
        with at(SATURDAY_NIGHT):
            open_case(alice, "High")
    assert heard == []
    assert not Event.objects.filter(kind=EventKind.AFTER_HOURS_CRITICAL).exists()


def test_raising_a_case_to_critical_after_hours_raises_the_alarm(
    alice, agent, open_case, priorities
):
    with at(SATURDAY_NIGHT):
        case = open_case(alice, "Medium")
        services.change_priority(case, priorities["Critical"], agent, "Everyone is locked out.")
    assert case.events.filter(kind=EventKind.AFTER_HOURS_CRITICAL).count() == 1


def test_a_file_too_big_or_of_a_wrong_type_is_refused_with_the_reason(alice, open_case, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    cases = [
        (SimpleUploadedFile("huge.log", b"x" * 1001), "at most 1000"),
        (SimpleUploadedFile("run.exe", b"MZ..."), "not accepted"),
        (SimpleUploadedFile("notes.txt", b"  <script>alert(1)</script>"), "web page or script"),
        (SimpleUploadedFile("empty.txt", b""), "empty"),
    ]
    for upload, reason in cases:
        with pytest.raises(services.CaseError) as caught:
            open_case(alice, "Low", attachments=[upload])
        assert reason in caught.value.errors["attachments"][0]
    assert not Case.objects.exists()


def test_attached_files_are_stored_under_a_random_name_with_a_clean_one_kept(alice, open_case):
    upload = SimpleUploadedFile("../../etc/passwd\x00.txt", b"hello", content_type="image/png")
    case = open_case(alice, "Low", attachments=[upload])
    stored = case.attachments.get()
    assert stored.name == "passwd.txt"
    assert stored.content_type == "text/plain"  # from our allow-list, not the browser
    assert "passwd" not in stored.file.name
    assert stored.file.read() == b"hello"
    assert stored.event.kind == EventKind.OPENED


def test_customers_cannot_write_notes_or_set_the_status(alice, open_case):
    case = open_case(alice, "Low")
    with pytest.raises(services.CaseError, match="internal notes"):
        services.add_note(case, alice, "psst")
    with pytest.raises(services.CaseError, match="set the status"):
        services.add_reply(case, alice, "Done", status=Status.RESOLVED)
    with pytest.raises(services.CaseError, match="support staff"):
        services.change_status(case, Status.RESOLVED, alice)


def test_a_closed_case_takes_no_more_replies(alice, agent, open_case):
    case = open_case(alice, "Low")
    services.change_status(case, Status.CLOSED, agent)
    with pytest.raises(services.CaseError, match="open a new case"):
        services.add_reply(case, alice, "One more thing")
    with pytest.raises(services.CaseError, match="stay closed"):
        services.change_status(case, Status.OPEN, agent)


def test_only_staff_take_cases(alice, bob, agent, open_case):
    case = open_case(alice, "Low")
    with pytest.raises(services.CaseError, match="active agents"):
        services.assign(case, bob, agent)
    services.assign(case, agent, agent)
    case.refresh_from_db()
    assert case.assignee == agent
    assert case.events.filter(kind=EventKind.ASSIGNMENT, public=False).count() == 1


def test_downgrading_needs_a_reason_the_customer_sees_and_is_counted(
    alice, agent, open_case, priorities
):
    case = open_case(alice, "Critical")
    with pytest.raises(services.CaseError, match="Say why"):
        services.downgrade(case, priorities["High"], agent, " ")
    with pytest.raises(services.CaseError, match="below Critical"):
        services.downgrade(case, priorities["Critical"], agent, "x")
    services.downgrade(case, priorities["High"], agent, "One user cannot print; others work.")
    event = case.events.get(kind=EventKind.DOWNGRADE)
    assert event.public and event.reason == "One user cannot print; others work."
    assert services.downgrades_of(alice.organization) == 1
    with pytest.raises(services.CaseError, match="not critical"):
        services.downgrade(case, priorities["Low"], agent, "again")


def test_deleting_an_agent_keeps_their_cases(alice, agent, open_case):
    case = open_case(alice, "Low")
    services.assign(case, agent, agent)
    services.add_reply(case, agent, "On it.")
    agent.delete()
    case.refresh_from_db()
    assert case.assignee is None
    assert case.events.filter(kind=EventKind.REPLY, author__isnull=True).count() == 1


def test_an_unknown_status_in_a_reply_is_refused_and_nothing_is_written(alice, agent, open_case):
    case = open_case(alice, "Low")
    with pytest.raises(services.CaseError, match="Unknown status"):
        services.add_reply(case, agent, "hello", status="vanished")
    assert case.events.count() == 1


@pytest.mark.parametrize(
    "content",
    [b"\xef\xbb\xbf<html><script>alert(1)</script>", "<svg onload=alert(1)>".encode("utf-16")],
)
def test_a_page_behind_a_byte_order_mark_is_still_refused(alice, open_case, content):
    with pytest.raises(services.CaseError, match="web page or script"):
        open_case(alice, "Low", attachments=[SimpleUploadedFile("readme.txt", content)])


def test_a_closed_case_keeps_its_priority_and_assignee(alice, agent, open_case, priorities):
    case = open_case(alice, "Critical")
    services.change_status(case, Status.CLOSED, agent)
    for change in (
        lambda: services.change_priority(case, priorities["Low"], agent, "late"),
        lambda: services.downgrade(case, priorities["Low"], agent, "late"),
        lambda: services.assign(case, agent, agent),
    ):
        with pytest.raises(services.CaseError, match="closed"):
            change()
    assert services.downgrades_of(alice.organization) == 0


def test_a_downgraded_case_leaves_the_after_hours_critical_list(
    alice, agent, open_case, priorities
):
    with at(SATURDAY_NIGHT):
        case = open_case(alice, "Critical")
    assert case.after_hours_alarm
    case = services.downgrade(case, priorities["Low"], agent, "A single report is slow.")
    assert not case.after_hours_alarm
    assert case.events.filter(kind=EventKind.AFTER_HOURS_CRITICAL).exists()  # history stays
