"""Quoted history is trimmed from replies of eleven mail clients (talon's fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.limited import run_limited
from casedesk.mail.parse import parse
from casedesk.mail.quotes import trim_quoted


def test_each_clients_reply_is_trimmed_to_what_the_person_wrote(corpora: Path) -> None:
    folder = corpora / "talon" / "standard_replies"
    replies = sorted(folder.glob("*.eml"))
    assert len(replies) >= 11
    for path in replies:
        expected_file = folder / f"{path.stem}_reply_text"
        expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
        assert trim_quoted(parse(path.read_bytes()).text).strip() == expected, path.name


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Thanks\n\nOn Tue, 1 Dec 2026 at 10:00, Sam <agent@example.com> wrote:\n> Hi", "Thanks"),
        ("Danke\n\nAm 01.12.2026 um 10:00 schrieb Sam:\n> Hallo", "Danke"),
        ("Fixed\n\n-----Original Message-----\nFrom: Sam\nSent: today", "Fixed"),
        (
            "Yes\n\nFrom: Sam <agent@example.com>\nSent: Tuesday\nTo: Alice\nSubject: x\n\nold",
            "Yes",
        ),
        ("On the server, I see errors.\nLine two", "On the server, I see errors.\nLine two"),
        ("> only a quote\n> nothing else", "> only a quote\n> nothing else"),
        ("From: the logs:\nERROR x", "From: the logs:\nERROR x"),
    ],
)
def test_trimming_rules(text: str, kept: str) -> None:
    assert trim_quoted(text) == kept


@given(st.text())
def test_trimming_never_fails_and_never_invents_text(text: str) -> None:
    trimmed = trim_quoted(text)
    assert trimmed in text.replace("\r\n", "\n") or trimmed == text.strip()


# Hostile text (issue 16): this ran inside the write transaction and took minutes on
# the input below; the deadline is many times what the linear code needs.


def test_a_reply_quoting_200000_lines_is_trimmed_in_one_pass() -> None:
    # Quoted lines, then text: every ">" line used to check all the lines after it.
    text = "> an old line\n" * 200_000 + "My answer is below, with no attribution line."
    assert run_limited(trim_quoted, text, seconds=30) == text.strip()
    top_posted = "My answer is above.\n" + "> an old line\n" * 200_000
    assert run_limited(trim_quoted, top_posted, seconds=30) == "My answer is above."
