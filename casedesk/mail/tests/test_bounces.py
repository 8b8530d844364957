"""Every bounce recognised, with the failed address and status; nothing else taken for one.

The shapes of issue 17 section 2: delivery reports whose fields do not parse, plain-text
notices from a mailer daemon with an odd From, bounces that say Auto-Submitted:
auto-replied, Amazon SES notices (JSON, in an SNS envelope or not), and mail-security
gateways' and providers' notices. The messages built here are our own words in each
shape; the real samples are read from ``../shared/corpora/`` and ``data/bounces/``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.limited import run_limited
from casedesk.mail.parse import parse
from casedesk.mail.reports import DeliveryStatus, read_fields, ses_notice
from casedesk.mail.rules import delivery_failures, returned_message_ids
from casedesk.mail.tests.conftest import build

OUR_ID = "<CD-1001.abc@support.example.com>"


def _failures(raw: bytes, envelope_from: str | None = None) -> list[tuple[str, str, str]]:
    return [(f.address, f.action, f.status) for f in delivery_failures(parse(raw), envelope_from)]


def _report(fields: str, *, boundary: str | None = "B", head: str = "") -> bytes:
    """A delivery report with ``fields`` as its message/delivery-status part.

    ``boundary=None``: the Content-Type names no boundary (the parts run together).
    """
    declared = f'; boundary="{boundary}"' if boundary else ""
    mark = boundary or "B"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        "To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"{head}MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status{declared}\r\n\r\n"
        f"--{mark}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--{mark}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.acme.example\r\n\r\n{fields}\r\n"
        f"--{mark}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.com\r\nMessage-ID: {OUR_ID}\r\n\r\n--{mark}--\r\n"
    ).encode()


# ---- Delivery reports whose fields do not parse as RFC 3464 says -------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        (  # the standard shape
            "Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\nStatus: 5.1.1",
            ("gone@acme.example", "failed", "5.1.1"),
        ),
        (  # a comment after the status
            "Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\n"
            "Status: 5.1.1 (user unknown)",
            ("gone@acme.example", "failed", "5.1.1"),
        ),
        (  # "expired": the retry time ran out; the 4.x code is kept as written
            "Final-Recipient: rfc822;gone@acme.example\r\nAction: expired\r\nStatus: 4.4.7",
            ("gone@acme.example", "failed", "4.4.7"),
        ),
        (  # a delay warning
            "Final-Recipient: rfc822; slow@acme.example\r\nAction: delayed\r\nStatus: 4.4.1",
            ("slow@acme.example", "delayed", "4.4.1"),
        ),
        (  # odd case and spacing, angle brackets, no address type
            "FINAL-RECIPIENT:<Gone@Acme.example>\r\naction :   FAILED\r\nstatus:5.2.2",
            ("gone@acme.example", "failed", "5.2.2"),
        ),
        (  # no Status: the class is the action's
            "Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\n"
            "Diagnostic-Code: smtp; 550 mailbox unavailable",
            ("gone@acme.example", "failed", "5.0.0"),
        ),
        (  # X.400: the address is the Original-Recipient's
            "Original-Recipient: rfc822; gone@acme.example\r\n"
            "Final-Recipient: x400; /S=gone/OU=acme/C=GB/\r\nAction: failed\r\nStatus: 5.4.7",
            ("gone@acme.example", "failed", "5.4.7"),
        ),
    ],
)
def test_a_report_s_recipient_block_is_read_however_it_is_written(
    fields: str, expected: tuple[str, str, str]
) -> None:
    assert _failures(_report(fields)) == [expected]


def test_a_report_whose_mime_boundary_is_missing_is_read_from_its_text() -> None:
    raw = _report(
        "Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\nStatus: 5.1.1",
        boundary=None,
    )
    parsed = parse(raw)
    assert _failures(raw) == [("gone@acme.example", "failed", "5.1.1")]
    assert returned_message_ids(parsed) == [OUR_ID]


def test_two_recipients_with_no_blank_line_between_them_are_two() -> None:
    found = read_fields(
        "Final-Recipient: rfc822; one@acme.example\nAction: failed\nStatus: 5.1.1\n"
        "Final-Recipient: rfc822; two@acme.example\nAction: delayed\nStatus: 4.2.2\n"
    )
    assert found == [
        DeliveryStatus("one@acme.example", "failed", "5.1.1"),
        DeliveryStatus("two@acme.example", "delayed", "4.2.2"),
    ]


def test_a_report_of_deliveries_only_is_no_bounce() -> None:
    raw = _report("Final-Recipient: rfc822; ok@acme.example\r\nAction: delivered\r\nStatus: 2.0.0")
    assert parse(raw).report_type == "delivery-status"
    assert _failures(raw) == []


def test_a_report_with_no_readable_block_falls_back_to_its_words() -> None:
    raw = (
        b"From: postmaster@mx.acme.example\r\nTo: support@example.com\r\n"
        b"Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\n"
        b"Delivery to the following recipient failed permanently:\r\n\r\n"
        b"     gone@acme.example\r\n\r\n"
        b"Technical details: 550 5.1.1 <gone@acme.example>: Recipient address rejected\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n"
        b"--B--\r\n"
    )
    assert _failures(raw) == [("gone@acme.example", "failed", "5.1.1")]


def test_real_reports_that_did_not_parse_record_their_failure(corpora: Path) -> None:
    # MailSite: "Status: 4.2.2 (Persistent transient failure ...)" and its returned
    # headers as message/rfc822-headers (not a registered type).
    malformed = parse((corpora / "mail-parser/mail_malformed_2").read_bytes())
    [failure] = delivery_failures(malformed, "")
    assert (failure.address, failure.action, failure.status) == (
        "abh@netpar.com.br",
        "failed",
        "4.2.2",
    )
    assert returned_message_ids(malformed) == [
        "<004801d1fc84$01c934ac$b247f0b7$@infospacemail.com>"
    ]
    # A bare message/delivery-status with MIME headers inside its blocks.
    broken = parse((corpora / "flanker/bounce/delayed-broken.eml").read_bytes())
    assert _failures_of(broken) == [("demo@example.com", "failed", "4.2.2")]
    # A delay warning is recorded as one.
    delayed = parse((corpora / "flanker/bounce/no-mx.eml").read_bytes())
    assert _failures_of(delayed) == [("user@example.com", "delayed", "4.4.4")]


def _failures_of(parsed: Any, envelope_from: str | None = None) -> list[tuple[str, str, str]]:
    return [(f.address, f.action, f.status) for f in delivery_failures(parsed, envelope_from)]


# ---- Plain-text notices from a mailer daemon -----------------------------------------

_POSTFIX_TEXT = (
    "This is the mail system at host mx.acme.example.\n\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n\n"
    "<gone@acme.example>: host mx.acme.example[192.0.2.10] said: 550 5.1.1\n"
    "    <gone@acme.example>: Recipient address rejected: User unknown\n"
)


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON",  # no address at all
        "Mail Delivery System <>",
        "",  # empty
        "MAILER-DAEMON@mx.acme.example (Mail Delivery System)",
        "Mail Delivery Subsystem <mailer-daemon@mx.acme.example>",
        "postmaster@mx.acme.example",
    ],
)
def test_a_plain_text_bounce_is_one_whatever_its_from_says(sender: str) -> None:
    raw = (
        f"From: {sender}\r\nTo: support@example.com\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n\r\n{_POSTFIX_TEXT}"
    ).encode()
    # Through IMAP: no envelope sender known, no Return-Path.
    assert _failures(raw, None) == [("gone@acme.example", "failed", "5.1.1")]


@pytest.mark.parametrize(
    "subject, body, expected",
    [
        (  # qmail: the address on its own line, the reply below
            "failure notice",
            "Hi. This is the qmail-send program at mx.acme.example.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "<gone@acme.example>:\n192.0.2.10 does not like recipient.\n"
            "Remote host said: 550 sorry, no mailbox here by that name. (#5.1.1)\n\n"
            "--- Below this line is a copy of the message.\n\n"
            f"From: support@example.com\nTo: gone@acme.example\nMessage-ID: {OUR_ID}\n",
            ("gone@acme.example", "failed", "5.1.1"),
        ),
        (  # Exim: no enhanced code, an SMTP reply
            "Mail delivery failed: returning message to sender",
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  gone@acme.example\n"
            "    SMTP error from remote mail server after RCPT TO:<gone@acme.example>:\n"
            "    550 Unrouteable address\n\n"
            "------ This is a copy of the message, including all the headers. ------\n",
            ("gone@acme.example", "failed", "5.0.0"),
        ),
        (  # Microsoft 365
            "Undeliverable: [CD-1001] Your printer",
            "Your message to gone@acme.example couldn't be delivered.\n"
            "gone wasn't found at acme.example.\n\n"
            "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
            "Recipient not found by SMTP address lookup'\n\n"
            "Original message headers:\n\nFrom: support@example.com\n",
            ("gone@acme.example", "failed", "5.1.10"),
        ),
        (  # Google "Address not found" (the text of its HTML notice)
            "Delivery Status Notification (Failure)",
            "Address not found\n\nYour message wasn't delivered to gone@acme.example because "
            "the address couldn't be found, or is unable to receive mail.\n\n"
            "The response from the remote server was:\n550 5.1.1 The email account that "
            "you tried to reach does not exist.\n",
            ("gone@acme.example", "failed", "5.1.1"),
        ),
        (  # Mimecast
            "Mimecast Delivery Failure Notification",
            "Your message couldn't be delivered to the following recipients:\n\n"
            "gone@acme.example\n\nReason: 550 Invalid Recipient - "
            "https://community.mimecast.example/docs\n",
            ("gone@acme.example", "failed", "5.0.0"),
        ),
        (  # Lotus Domino
            "DELIVERY FAILURE: User gone (gone@acme.example) not listed in Domino Directory",
            "Your message\n\n  Subject: Your printer\n\nwas not delivered to:\n\n"
            "  gone@acme.example\n\nbecause:\n\n"
            "  User gone (gone@acme.example) not listed in Domino Directory\n",
            ("gone@acme.example", "failed", "5.0.0"),
        ),
        (  # a delay warning with no code at all
            "Warning: could not send message for past 4 hours",
            "    **********************************************\n"
            "    **      THIS IS A WARNING MESSAGE ONLY      **\n"
            "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n"
            "    **********************************************\n\n"
            "The original message was received at Sat, 28 Nov 2026 02:00:00 -0600\n"
            "from mail.example.com [198.51.100.7]\n\n"
            "   ----- Transcript of session follows -----\n"
            "<slow@acme.example>... Deferred: Connection timed out with mx.acme.example.\n"
            "Warning: message still undelivered after 4 hours\n"
            "Will keep trying until message is 5 days old\n",
            ("slow@acme.example", "delayed", "4.0.0"),
        ),
    ],
)
def test_a_mail_server_s_notice_gives_the_failed_address_and_status(
    subject: str, body: str, expected: tuple[str, str, str]
) -> None:
    raw = build(subject, body, sender="Mail Delivery System <MAILER-DAEMON@mx.acme.example>")
    assert _failures(raw, "") == [expected]


def test_exim_s_failed_recipients_header_names_the_address() -> None:
    raw = build(
        "Mail delivery failed: returning message to sender",
        "A message that you sent could not be delivered.\n  gone@acme.example\n",
        sender="Mail Delivery System <Mailer-Daemon@mx.acme.example>",
        headers={"X-Failed-Recipients": "gone@acme.example"},
    )
    assert _failures(raw, "") == [("gone@acme.example", "failed", "5.0.0")]


def test_an_exchange_ndr_from_an_ordinary_looking_address_is_a_bounce() -> None:
    raw = build(
        "Undeliverable: Your printer",
        "Delivery has failed to these recipients or groups:\n\ngone@acme.example\n"
        "The email address you entered couldn't be found.\n",
        sender="Microsoft Outlook <it-desk@acme.example>",
        headers={"X-MS-Exchange-Message-Is-Ndr": ""},
    )
    assert _failures(raw, "it-desk@acme.example") == [("gone@acme.example", "failed", "5.0.0")]


def test_a_notice_that_names_no_address_is_still_a_bounce() -> None:
    raw = build(
        "Undeliverable mail",
        "Your message could not be delivered.",
        sender="MAILER-DAEMON@mx.acme.example",
    )
    assert _failures(raw, "") == [("", "failed", "5.0.0")]


# ---- Auto-Submitted: auto-replied ----------------------------------------------------


def test_a_bounce_saying_auto_replied_is_recognised_by_its_content(corpora: Path) -> None:
    raw = build(
        "Undelivered Mail Returned to Sender",
        _POSTFIX_TEXT,
        sender="MAILER-DAEMON@mx.acme.example (Mail Delivery System)",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert _failures(raw, "") == [("gone@acme.example", "failed", "5.1.1")]
    zed = parse((corpora / "flanker/bounce/zed.eml").read_bytes())
    assert zed.header("auto-submitted") == "auto-replied"
    assert _failures_of(zed)[0][1:] == ("failed", "5.1.1")


def test_an_out_of_office_is_no_bounce() -> None:
    raw = build(
        "Automatic reply: Your printer",
        "I am out of the office until Monday and cannot deliver on requests before then.",
        sender="Alice Example <alice@acme.example>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert _failures(raw, "") == []


def test_a_challenge_dressed_as_a_delivery_report_is_no_bounce() -> None:
    raw = _report(
        "Final-Recipient: rfc822; alice@acme.example\r\nAction: failed\r\nStatus: 4.7.0\r\n"
        "Diagnostic-Code: X-Notice; Sender not pre-approved. Follow the instructions above"
    )
    assert _failures(raw, "") == []


# ---- A person's mail stays a person's ------------------------------------------------


@pytest.mark.parametrize("envelope_from", ["alice@acme.example", None])
def test_a_customer_writing_about_failed_delivery_is_no_bounce(envelope_from: str | None) -> None:
    raw = build(
        "mail delivery failed for all our users, CRITICAL",
        "Since 02:00 every message we send bounces with\n"
        "550 5.1.1 <bob@acme.example>: Recipient address rejected: User unknown\n"
        "Undeliverable, returned mail, the lot. Please help.",
    )
    assert _failures(raw, envelope_from) == []


# ---- Amazon SES ----------------------------------------------------------------------


def _ses(kind: str, details: dict[str, Any], *, headers: bool = True) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "source": "support@example.com",
        "messageId": "0100018c-ses-own-id",
        "destination": ["gone@acme.example"],
        "commonHeaders": {"from": ["support@example.com"], "messageId": OUR_ID},
    }
    if headers:
        mail["headers"] = [{"name": "Message-ID", "value": OUR_ID}]
    key = {"Bounce": "bounce", "Complaint": "complaint", "DeliveryDelay": "deliveryDelay"}[kind]
    return {"notificationType": kind, key: copy.deepcopy(details), "mail": mail}


_PERMANENT = {
    "bounceType": "Permanent",
    "bouncedRecipients": [
        {
            "emailAddress": "gone@acme.example",
            "action": "failed",
            "status": "5.1.1",
            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
        }
    ],
}


def _sns_mail(body: str) -> bytes:
    return build(
        "AWS Notification Message",
        body,
        sender="Notifications <no-reply@sns.example.com>",
        headers={"x-amz-sns-message-id": "a9824ea2-0000"},
    )


def test_an_ses_bounce_notice_is_a_bounce_with_our_message_id() -> None:
    raw = _sns_mail(json.dumps(_ses("Bounce", _PERMANENT)) + "\n\n--\nTo unsubscribe: ...\n")
    parsed = parse(raw)
    assert _failures_of(parsed) == [("gone@acme.example", "failed", "5.1.1")]
    assert returned_message_ids(parsed) == [OUR_ID]


def test_an_ses_notice_inside_an_sns_envelope_is_read() -> None:
    transient = {
        "bounceType": "Transient",
        "bouncedRecipients": [{"emailAddress": "full@acme.example"}],
    }
    envelope = {
        "Type": "Notification",
        "Message": json.dumps(_ses("Bounce", transient, headers=False)),
    }
    parsed = parse(_sns_mail(json.dumps(envelope, indent=2)))
    assert _failures_of(parsed) == [("full@acme.example", "failed", "4.0.0")]
    assert returned_message_ids(parsed) == [OUR_ID]


def test_an_ses_notice_folded_by_a_mail_server_is_read() -> None:
    body = json.dumps(_ses("Bounce", _PERMANENT)).replace("gone@acme", "gone@ac!\n me", 1)
    assert _failures_of(parse(_sns_mail(body))) == [("gone@acme.example", "failed", "5.1.1")]


def test_an_ses_delay_is_recorded_as_delayed() -> None:
    delay = {
        "delayType": "MailboxFull",
        "delayedRecipients": [{"emailAddress": "slow@acme.example", "status": "4.2.2"}],
    }
    parsed = parse(_sns_mail(json.dumps(_ses("DeliveryDelay", delay))))
    assert _failures_of(parsed) == [("slow@acme.example", "delayed", "4.2.2")]


def test_an_ses_complaint_is_a_feedback_report_not_a_bounce() -> None:
    complaint = {"complainedRecipients": [{"emailAddress": "alice@acme.example"}]}
    parsed = parse(_sns_mail(json.dumps(_ses("Complaint", complaint))))
    assert parsed.report_type == "feedback-report" and _failures_of(parsed) == []


def test_json_a_customer_pastes_into_a_question_is_their_text() -> None:
    body = "Why do we get these?\n" + json.dumps(_ses("Bounce", _PERMANENT))
    parsed = parse(build("SES question", body))
    assert parsed.report_type == "" and ses_notice(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "{}",
        '{"notificationType": "Bounce"}',
        '{"notificationType": "Bounce", "bounce": {"bouncedRecipients": "x"}}',
        '{"notificationType": "Bounce", "bounce": {"bouncedRecipients": [1, null, {}]}}',
        '{"Type": "Notification", "Message": "not json"}',
        '{"Type": "Notification", "Message": 7}',
        '{"notificationType": ["Bounce"]}',
        "[" * 100_000,
        '{"a":' * 100_000,
    ],
)
def test_broken_ses_json_is_no_report_and_raises_nothing(body: str) -> None:
    notice = ses_notice(body)
    assert notice is None or notice.delivery == []


# ---- Hostile input -------------------------------------------------------------------


@given(st.text(max_size=2000), st.sampled_from(["", None, "alice@acme.example"]))
def test_any_text_from_a_mailer_daemon_gives_an_answer(text: str, envelope: str | None) -> None:
    raw = build("Undelivered Mail Returned to Sender", text, sender="MAILER-DAEMON@mx.example")
    for failure in delivery_failures(parse(raw), envelope):
        assert failure.action in ("failed", "delayed")


@given(st.text(max_size=2000))
def test_any_text_as_report_fields_gives_an_answer(text: str) -> None:
    assert all(isinstance(entry, DeliveryStatus) for entry in read_fields(text))


@pytest.mark.parametrize(
    "filler",
    [
        "a" * 1_000_000,  # one long word
        "a@" * 500_000,  # an address's start, over and over
        " " * 1_000_000 + "Status:",  # a field name after a long run of spaces
        "Final-Recipient: rfc822; x@acme.example\n" * 25_000,  # a million recipients' lines
        "-" * 1_000_000,  # a divider with no end
        "550 " * 250_000,  # SMTP replies with nothing after them
    ],
)
def test_a_megabyte_of_hostile_bounce_text_is_read_in_one_pass(filler: str) -> None:
    raw = build(
        "Undelivered Mail Returned to Sender",
        filler + "\n550 5.1.1 <gone@acme.example>: unknown user",
        sender="MAILER-DAEMON@mx.example",
    )
    parsed = parse(raw)
    failures = run_limited(delivery_failures, parsed, "", seconds=30)
    assert 1 <= len(failures) <= 100
    assert run_limited(returned_message_ids, parsed, seconds=30) == []


# ---- End to end: no case, no auto-reply, no page; the note lands on our case ---------

SATURDAY_NIGHT = "2026-11-28T08:00:00Z"  # 02:00 in Chicago: support is closed


def _plain_bounce(ours: str) -> bytes:
    """A qmail-style notice from a bare "MAILER-DAEMON", our mail quoted after it."""
    return (
        "From: MAILER-DAEMON\r\nTo: support@example.com\r\n"
        "Subject: failure notice: CRITICAL: site down\r\nAuto-Submitted: auto-replied\r\n\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        "<alice@acme.example>:\r\nRemote host said: 550 5.1.1 no mailbox here by that name\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        f"From: support@example.com\r\nTo: alice@acme.example\r\nMessage-ID: {ours}\r\n"
        "Subject: [CD-1001] CRITICAL: site down\r\n\r\nWe are on it.\r\n"
    ).encode()


def _ses_bounce(ours: str) -> bytes:
    notice = _ses("Bounce", _PERMANENT)
    notice["bounce"]["bouncedRecipients"][0]["emailAddress"] = "alice@acme.example"
    notice["mail"]["commonHeaders"]["messageId"] = ours
    notice["mail"]["headers"] = [{"name": "Message-ID", "value": ours}]
    return _sns_mail(json.dumps({"Type": "Notification", "Message": json.dumps(notice)}))


def _commented_report(ours: str) -> bytes:
    return _report(
        "Final-Recipient: rfc822; alice@acme.example\r\nAction: failed\r\n"
        "Status: 5.1.1 (user unknown)",
        head="Auto-Submitted: auto-replied\r\n",
    ).replace(OUR_ID.encode(), ours.encode())


def _delay_warning(ours: str) -> bytes:
    return _report(
        "Final-Recipient: rfc822; alice@acme.example\r\nAction: delayed\r\nStatus: 4.4.1",
        boundary=None,
    ).replace(OUR_ID.encode(), ours.encode())


def _expired_report(ours: str) -> bytes:
    return _report(
        "Final-Recipient: rfc822; alice@acme.example\r\nAction: expired\r\nStatus: 4.4.7"
    ).replace(OUR_ID.encode(), ours.encode())


@pytest.mark.parametrize(
    "make, envelope_from, expected",
    [
        (_plain_bounce, "", "alice@acme.example 5.1.1 failed"),
        (_plain_bounce, None, "alice@acme.example 5.1.1 failed"),  # IMAP: no envelope
        (_ses_bounce, "0100-ses@amazonses.example.com", "alice@acme.example 5.1.1 failed"),
        (_commented_report, "", "alice@acme.example 5.1.1 failed"),
        (_delay_warning, "", "alice@acme.example 4.4.1 delayed"),
        (_expired_report, "", "alice@acme.example 4.4.7 failed"),
    ],
)
def test_a_bounce_of_any_shape_notes_our_case_and_opens_none(
    make: Any,
    envelope_from: str | None,
    expected: str,
    deliver: Any,
    alice: Any,
    open_case: Any,
    run_tasks: Any,
) -> None:
    from django.core import mail as outbox

    from casedesk.cases.models import Case, EventKind
    from casedesk.core.mail import thread_message_id
    from casedesk.mail.models import Bounce, State
    from casedesk.oncall.models import Page

    case = open_case(alice, "Medium")
    run_tasks()  # the case's own mail
    outbox.outbox.clear()
    pages = Page.objects.count()
    source = "imap" if envelope_from is None else "smtp"
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        outcome = deliver(
            make(thread_message_id(case.reference)), envelope_from=envelope_from, source=source
        )
        run_tasks()
    bounce = Bounce.objects.get()
    assert outcome.state == State.BOUNCE and outcome.case == case
    assert f"{bounce.address} {bounce.status} {bounce.action}" == expected
    assert bounce.contact == alice and bounce.case == case
    notes = case.events.filter(kind=EventKind.NOTE).values_list("body", flat=True)
    if bounce.action == "delayed":
        assert any("is delayed (4.4.1)" in note for note in notes)
        assert not bounce.permanent
    elif bounce.status.startswith("4"):  # the server gave up: not the address's fault
        assert any("gave up after temporary failures (4.4.7)" in note for note in notes)
        assert not bounce.permanent
    else:
        assert any("address undeliverable: 5.1.1" in note for note in notes)
    assert Case.objects.count() == 1 and Page.objects.count() == pages
    assert outbox.outbox == []  # no auto-reply to a bounce


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, envelope_from, address",
    [
        (
            "flanker/bounce/zed.eml",
            "",
            "asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com",
        ),
        ("flanker/bounce/office365.eml", None, "noname@example.com"),
        ("flanker/bounce/gmail-invalid-address.eml", "", "awfawfawfawfawfaw@someserverhere.com"),
        ("flanker/bounce/broken-mime.eml", None, "info@example.net"),
        ("flanker/bounce/delayed-broken.eml", None, "demo@example.com"),
        ("mail-parser/mail_malformed_2", "", "abh@netpar.com.br"),
    ],
)
def test_real_bounces_are_recorded_and_open_no_case(
    path: str, envelope_from: str | None, address: str, corpora: Path, deliver: Any
) -> None:
    from casedesk.cases.models import Case
    from casedesk.mail.models import Bounce, State

    source = "imap" if envelope_from is None else "smtp"
    outcome = deliver((corpora / path).read_bytes(), envelope_from=envelope_from, source=source)
    assert outcome.state == State.BOUNCE, outcome.line
    assert Bounce.objects.get().address == address
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_an_ses_complaint_is_ignored_and_opens_no_case(deliver: Any) -> None:
    from casedesk.cases.models import Case
    from casedesk.mail.models import State

    complaint = {"complainedRecipients": [{"emailAddress": "alice@acme.example"}]}
    outcome = deliver(
        _sns_mail(json.dumps(_ses("Complaint", complaint))), envelope_from="x@ses.example"
    )
    assert outcome.state == State.IGNORED
    assert outcome.line == "ignored: a feedback-report report, no case"
    assert not Case.objects.exists()


def test_a_customer_s_critical_mail_about_failed_delivery_opens_a_critical_case(
    deliver: Any, alice: Any
) -> None:
    from casedesk.mail.models import Bounce

    raw = build(
        "mail delivery failed for all our users, CRITICAL",
        "Every message we send bounces with 550 5.1.1 <bob@acme.example>: "
        "Recipient address rejected. Undeliverable, returned mail, the lot.",
    )
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        outcome = deliver(raw, envelope_from="alice@acme.example")
    assert outcome.line.startswith("created CD-") and outcome.line.endswith("Critical")
    assert not Bounce.objects.exists()


def test_blocks_with_the_recipient_last_are_kept_apart_by_their_blank_lines() -> None:
    # Symantec's MessageLabs writes Status and Action before Final-Recipient.
    found = read_fields(
        "Reporting-MTA: dns; mx.example\n\n"
        "Diagnostic-Code: smtp; 550-Please turn on SMTP Authentication\n550 relay denied\n"
        "Status: 5.0.0\nAction: failed\nFinal-Recipient: rfc822; one@acme.example\n\n"
        "Status: 4.2.2\nAction: delayed\nFinal-Recipient: rfc822; two@acme.example\n"
    )
    assert [(f.address, f.action, f.status) for f in found] == [
        ("one@acme.example", "failed", "5.0.0"),
        ("two@acme.example", "delayed", "4.2.2"),
    ]


@pytest.mark.django_db
def test_a_person_s_mail_with_a_broken_from_still_needs_attention(deliver: Any) -> None:
    raw = (
        b"From: Alice at Acme (no address)\r\nTo: support@example.com\r\n"
        b"Subject: CRITICAL: mail delivery failed for all our users\r\n\r\n"
        b"Every message bounces: 550 5.1.1 <bob@acme.example>: User unknown\r\n"
    )
    outcome = deliver(raw, envelope_from=None, source="imap")
    assert outcome.line == "needs attention: no readable sender address (From)"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("Remote host said: <gone@acme.example>... User unknown", "gone@acme.example"),
        ("From: <sender@acme.example>\nTo: <gone@acme.example>: unknown", "gone@acme.example"),
        ("Message-ID: <a1@acme.example>\n<gone@acme.example>: unknown", "gone@acme.example"),
        ("queued as id <q1@mx.acme.example>\n<gone@acme.example>: unknown", "gone@acme.example"),
        ("The message, addressed to 'gone@acme.example', failed.", "gone@acme.example"),
    ],
)
def test_the_failed_address_is_not_a_sender_or_a_message_id(line: str, expected: str) -> None:
    raw = build("Undelivered Mail Returned to Sender", line, sender="MAILER-DAEMON@mx.example")
    assert [address for address, _, _ in _failures(raw, "")] == [expected]


@given(st.binary(max_size=3000))
def test_any_bytes_as_a_delivery_report_give_an_answer(body: bytes) -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nSubject: Delivery Status Notification\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        b"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n" + body + b"\r\n--B--\r\n"
    )
    parsed = parse(raw)
    for failure in delivery_failures(parsed, ""):
        assert failure.action in ("failed", "delayed")
    assert len(returned_message_ids(parsed)) <= 20


# ---- The weaker cues, and where they stop ----------------------------------------------


def test_a_notice_sent_to_a_bounce_address_is_a_bounce_whoever_signs_it() -> None:
    raw = build(
        "Delivery failure notification",
        "Your message could not be delivered to the following recipients:\n\ngone@acme.example\n",
        sender="relay@mailscan.acme.example",
        to="support-bounces@example.com",
    )
    assert _failures(raw, "relay@mailscan.acme.example") == [
        ("gone@acme.example", "failed", "5.0.0")
    ]


def test_bulk_mail_counts_only_with_a_bounce_s_subject() -> None:
    notice = build(
        "Non-Delivery: your message",
        "The email below could not be delivered to the following user:\n\ngone@acme.example\n",
        sender="admin@acme.example",
        headers={"Precedence": "bulk"},
    )
    assert _failures(notice, "admin@acme.example") == [("gone@acme.example", "failed", "5.0.0")]
    alert = build(
        "CRITICAL: nightly backup",
        "The backup could not be delivered to storage@acme.example: 550 5.1.1 unknown.\n",
        sender="monitor@acme.example",
        headers={"Precedence": "bulk"},
    )
    assert _failures(alert, "monitor@acme.example") == []


def test_an_unreadable_system_administrator_from_is_a_mail_server_s() -> None:
    raw = (
        b'From: <"System Administrator"@acme.example>\r\nTo: support@example.com\r\n'
        b"Subject: Delivery Failure\r\n\r\n"
        b"Could not deliver message to the following recipient(s):\r\n\r\n"
        b"Failed Recipient: gone@acme.example\r\n"
        b"Reason: Remote host said: 550 unknown user <gone@acme.example>\r\n"
    )
    assert _failures(raw, None) == [("gone@acme.example", "failed", "5.0.0")]


def test_a_report_forwarded_inside_a_notice_is_read() -> None:
    inner = _report("Final-Recipient: rfc822; gone@acme.example\r\nAction: failed\r\nStatus: 5.1.1")
    raw = (
        b"From: postmaster@acme.example\r\nTo: support@example.com\r\n"
        b"Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="OUTER"\r\n\r\n'
        b"--OUTER\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUTER--\r\n"
    )
    assert _failures(raw, "") == [("gone@acme.example", "failed", "5.1.1")]


def _disposition(sender: str, words: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: Automatically rejected mail\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="B"\r\n'
        f"\r\n--B\r\nContent-Type: text/plain\r\n\r\n{words}\r\n"
        "--B\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Final-Recipient: rfc822; gone@acme.example\r\n"
        "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n--B--\r\n"
    ).encode()


def test_a_mail_store_s_rejection_sent_as_a_disposition_notice_is_a_bounce() -> None:
    raw = _disposition(
        "Mail Delivery Subsystem <admin@acme.example>",
        "Your message to <gone@acme.example> was automatically rejected:\r\nQuota exceeded",
    )
    assert _failures(raw, "") == [("gone@acme.example", "failed", "5.0.0")]


def test_a_person_s_read_receipt_is_no_bounce() -> None:
    raw = _disposition("Alice Example <alice@acme.example>", "Your message was read.")
    assert _failures(raw, "") == []


@pytest.mark.django_db
def test_a_forwarded_recipient_s_failure_is_recorded_for_both_addresses(
    deliver: Any, alice: Any, open_case: Any
) -> None:
    from casedesk.cases.models import EventKind
    from casedesk.core.mail import thread_message_id
    from casedesk.mail.models import Bounce

    case = open_case(alice, "Medium")
    raw = _report(
        "Original-Recipient: rfc822;alice@acme.example\r\n"
        "Final-Recipient: rfc822; alice@mailstore.acme.example\r\nAction: failed\r\nStatus: 5.2.2"
    ).replace(OUR_ID.encode(), thread_message_id(case.reference).encode())
    outcome = deliver(raw, envelope_from="")
    assert outcome.line == "bounce alice@acme.example 5.2.2"
    rows = {(b.address, b.contact) for b in Bounce.objects.all()}
    assert rows == {("alice@acme.example", alice), ("alice@mailstore.acme.example", None)}
    [note] = case.events.filter(kind=EventKind.NOTE, body__startswith="Mail to")
    assert note.body.startswith(
        "Mail to alice@acme.example (forwarded to alice@mailstore.acme.example) was not delivered"
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(
    st.sampled_from(["Bounce", "Complaint", "DeliveryDelay", "Delivery", "Other"]),
    st.dictionaries(
        st.sampled_from(["bounce", "deliveryDelay", "mail", "delivery", "Message", "Type"]),
        _JSON,
        max_size=4,
    ),
)
def test_any_ses_shaped_json_gives_an_answer(kind: str, rest: dict[str, Any]) -> None:
    notice = ses_notice(json.dumps({"notificationType": kind, **rest}))
    if notice is not None:
        assert notice.report_type in ("delivery-status", "feedback-report")
        assert all("@" in d.address for d in notice.delivery)
        assert all(i.startswith("<") for i in notice.returned_ids)


# ---- Real samples of each shape (data/bounces/, the corpus helper's collection) --------

DATA = Path(__file__).resolve().parent / "data" / "bounces"


@pytest.mark.parametrize(
    "name, envelope_from, expected",
    [
        # a report whose blocks do not parse: X.400 Final-Recipient, 4.4.7 after a timeout
        ("flufl-dsn_02.eml", None, ("u93a0c5@d78e131.example", "failed", "4.4.7")),
        # plain text from a bare "<MAILER-DAEMON@...>" with no bounce words in the subject
        ("flufl-simple_04.eml", None, ("userx@example.com", "failed", "5.0.0")),
        # Auto-Submitted: auto-replied, a Russian notice
        ("flufl-simple_39.eml", None, ("ue0761c@d0518a7.example", "failed", "5.0.0")),
        # Amazon SES through SNS, folded by a mail server inside the JSON
        (
            "sisimai-ced-us-amazonses-01.eml",
            None,
            ("bounce@simulator.amazonses.example", "failed", "5.1.1"),
        ),
        # mail-security gateways
        ("sisimai-rhost-mimecast-01.eml", "", ("sabatora@example.com", "failed", "5.0.0")),
        ("sisimai-email-barracuda-01.eml", "", ("kijitora@example.org", "failed", "5.7.1")),
        (
            "sisimai-rhost-messagelabs-01.eml",
            None,
            ("u1efb23@example.messagelabs.example", "failed", "5.0.0"),
        ),
        # a provider (Outlook.com), and a notice signed by a person-like address, sent to a
        # -bounces address
        ("sisimai-rhost-outlook-01.eml", "", ("u22bf2b@d43f031.example", "failed", "5.2.2")),
        (
            "flufl-simple_22.eml",
            None,
            ("user@example.org", "delayed", "4.0.0"),
        ),  # to a -bounces address
    ],
)
def test_real_bounces_of_each_shape_give_the_address_and_status(
    name: str, envelope_from: str | None, expected: tuple[str, str, str]
) -> None:
    assert _failures((DATA / name).read_bytes(), envelope_from)[0] == expected


@pytest.mark.parametrize(
    "name, envelope_from",
    [
        ("casedesk-customer-delivery-failures.eml", "dana@globex.example"),  # quotes a bounce
        ("bounceparser-boxbe-cr.eml", None),  # a challenge dressed as a report
        ("bounceparser-whitelist.eml", ""),
        ("sisimai-ced-us-amazonses-03.eml", None),  # an SES complaint
    ],
)
def test_real_look_alikes_are_no_bounces(name: str, envelope_from: str | None) -> None:
    assert _failures((DATA / name).read_bytes(), envelope_from) == []
