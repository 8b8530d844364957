"""Which subjects are critical, which mail is automated (RFC 3834), which is a bounce."""

from __future__ import annotations

import unicodedata
from email.header import Header

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from casedesk.lib.limited import run_limited
from casedesk.mail.parse import parse
from casedesk.mail.rules import (
    automation,
    delivery_failures,
    is_critical_subject,
    references_in_subject,
)
from casedesk.mail.tests.conftest import build


@pytest.mark.parametrize(
    "subject",
    [
        "CRITICAL: site down",
        "[Critical] login fails",
        "critical",
        "Production is down - critical!",
        "Re: (critical) payments",
        "URGENT/CRITICAL: outage",
        "Critical—checkout broken",  # an em dash is not part of a word
        "Ｃｒｉｔｉｃａｌ: full-width letters",
        "Kritisch / critical: zweisprachig",
        "«critical» outage",
    ],
)
def test_critical_as_a_whole_word_counts(subject: str) -> None:
    assert is_critical_subject(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "non-critical: typo on the pricing page",
        "criticality assessment",
        "uncritical question",
        "critical_path report",
        "Critical-ish",
        "non\u2011critical (a non-breaking hyphen)",
        "non\u2010critical",
        "un\u00adcritical",
        "hypercritical reviewer",
        "crit",
        "",
        "Critic review",
    ],
)
def test_critical_inside_another_word_does_not(subject: str) -> None:
    assert not is_critical_subject(subject)


@pytest.mark.parametrize(
    "encoded",
    [
        Header("CRITICAL: Zugang gesperrt für alle", "utf-8").encode(),
        Header("[Critical] ログインできません", "utf-8").encode(),
        "=?iso-8859-1?q?Critical=3A_caf=E9_down?=",
    ],
)
def test_rfc2047_encoded_subjects_are_decoded_before_matching(encoded: str) -> None:
    raw = (
        f"From: alice@acme.example\r\nTo: support@example.com\r\nSubject: {encoded}\r\n\r\nx\r\n"
    ).encode()
    assert is_critical_subject(parse(raw).subject)


@given(st.text())
def test_any_subject_gives_an_answer_without_error(subject: str) -> None:
    assert is_critical_subject(subject) in (True, False)


@given(st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1))
def test_critical_glued_to_letters_or_digits_never_counts(glue: str) -> None:
    # Compatibility forms fold first: "Ŀ" is "L·", and a middle dot does separate words.
    assume(all(ch.isalnum() for ch in unicodedata.normalize("NFKC", glue)))
    assert not is_critical_subject(f"{glue}critical") or is_critical_subject(glue)
    assert not is_critical_subject(f"critical{glue}") or is_critical_subject(glue)


def test_references_are_found_in_the_subject() -> None:
    assert references_in_subject("Re: [CD-1042] printer") == [1042]
    assert references_in_subject("cd-1042 and CD-1043") == [1042, 1043]
    assert references_in_subject("ABCD-1042 or CD-12") == []
    assert references_in_subject("Sony CD 2001 and cd2001 are product codes") == []


@pytest.mark.parametrize(
    "headers, envelope, automated",
    [
        ({}, "alice@acme.example", ""),
        ({"Auto-Submitted": "no"}, "alice@acme.example", ""),
        ({"Auto-Submitted": "auto-replied"}, "alice@acme.example", "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated; owner"}, None, "Auto-Submitted: auto-generated"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"List-Id": "Ops <ops.acme.example>"}, None, "mailing-list mail (List-Id)"),
        ({"X-Auto-Response-Suppress": "All"}, None, "X-Auto-Response-Suppress: all"),
        ({}, "", "empty return path (a bounce or a notification)"),
        ({}, "MAILER-DAEMON@mx.acme.example", "return path MAILER-DAEMON@mx.acme.example"),
        ({}, "no-reply@acme.example", "return path no-reply@acme.example"),
        ({"Return-Path": "<>"}, None, "empty return path (a bounce or a notification)"),
        (
            {"Return-Path": "<bounces+123@mail.acme.example>"},
            None,
            "return path bounces+123@mail.acme.example",
        ),
    ],
)
def test_rfc3834_says_which_mail_must_not_be_answered(
    headers: dict[str, str], envelope: str | None, automated: str
) -> None:
    assert automation(parse(build(headers=headers)), envelope).reason == automated


def test_a_noreply_from_address_is_automated_even_without_an_envelope() -> None:
    raw = build(sender="Acme Billing <noreply@acme.example>")
    assert automation(parse(raw), None).reason == "sent from noreply@acme.example"


# Hostile text (issue 16): this ran inside the write transaction and took minutes on
# the input below; the deadline is many times what the linear code needs.


def test_a_bounce_notice_of_a_million_letters_is_read_in_one_pass() -> None:
    raw = build(
        "Undelivered Mail Returned to Sender",
        "a" * 1_000_000 + "\n550 5.1.1 <gone@acme.example>: unknown user",
        sender="MAILER-DAEMON@mx.example",
    )
    parsed = parse(raw)
    [failure] = run_limited(delivery_failures, parsed, "", seconds=30)
    assert (failure.address, failure.status) == ("gone@acme.example", "5.1.1")
