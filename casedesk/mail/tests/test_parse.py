"""The parser takes anything: every real message, and random bytes, without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casedesk.mail import parse as parse_module
from casedesk.mail.parse import (
    HTML_MAX_DEPTH,
    MIME_MAX_DEPTH,
    Limits,
    html_depth,
    html_to_text,
    parse,
    sanitise_html,
)
from casedesk.mail.rules import delivery_failures
from casedesk.mail.tests.conftest import build, div_soup, nested_multipart, rfc822_chain

MAIL_FOLDERS = ("mail-parser", "flanker", "talon", "django-helpdesk")


def corpus_messages(corpora: Path) -> list[Path]:
    return sorted(
        path
        for folder in MAIL_FOLDERS
        for path in (corpora / folder).rglob("*")
        if path.is_file()
        and path.suffix not in (".html", ".md")
        and not path.name.endswith("_text")
    )


def test_every_corpus_message_parses(corpora: Path) -> None:
    messages = corpus_messages(corpora)
    assert len(messages) >= 90
    for path in messages:
        parsed = parse(path.read_bytes())
        assert parsed.readable, path


def test_encoded_subjects_and_names_are_decoded(corpora: Path) -> None:
    parsed = parse((corpora / "mail-parser" / "mail_test_1").read_bytes())
    assert parsed.subject == "письмо уведом-е"
    helpdesk = parse((corpora / "django-helpdesk" / "quoted_printable.eml").read_bytes())
    assert helpdesk.subject == "Český test"


def test_rfc3464_bounces_give_the_address_and_status(corpora: Path) -> None:
    zed = delivery_failures(parse((corpora / "flanker/bounce/zed.eml").read_bytes()))
    assert [(f.status, f.action) for f in zed] == [("5.1.1", "failed")]
    office = delivery_failures(parse((corpora / "flanker/bounce/office365.eml").read_bytes()))
    assert [(f.address, f.status) for f in office] == [("noname@example.com", "5.1.10")]
    assert delivery_failures(parse((corpora / "flanker/signed.eml").read_bytes())) == []


def test_a_plain_text_gmail_bounce_is_read_from_its_text(corpora: Path) -> None:
    parsed = parse((corpora / "flanker/bounce/gmail-invalid-address.eml").read_bytes())
    [failure] = delivery_failures(parsed)
    assert failure.address == "awfawfawfawfawfaw@someserverhere.com"
    assert failure.status == "5.1.0"


def test_an_endlessly_nested_message_is_read_to_a_bounded_depth(corpora: Path) -> None:
    parsed = parse((corpora / "flanker/enclosed-endless.eml").read_bytes())
    assert parsed.readable and parsed.subject == "Wow"
    assert len(parsed.parts) <= 200


def test_an_unknown_charset_falls_back_instead_of_failing() -> None:
    raw = (
        b"From: a@acme.example\r\nSubject: x\r\nContent-Type: text/plain; charset=klingon\r\n"
        b"\r\ncaf\xe9 down\r\n"
    )
    assert parse(raw).text == "café down"


def test_html_is_sanitised_and_turned_into_text() -> None:
    dirty = '<div onclick="x()">Hi<script>alert(1)</script><br>there<style>p{}</style></div>'
    assert "script" not in sanitise_html(dirty) and "onclick" not in sanitise_html(dirty)
    assert html_to_text(dirty) == "Hi\nthere"


def test_inline_images_and_attachments_are_parts() -> None:
    raw = build(
        "Screenshots",
        attachments=[
            ("shot.png", "image/png", b"\x89PNG\r\n\x1a\nfake"),
            ("a.pdf", "application/pdf", b"%PDF-1.4"),
        ],
    )
    parts = parse(raw).parts
    assert [(p.name, p.content_type) for p in parts] == [
        ("shot.png", "image/png"),
        ("a.pdf", "application/pdf"),
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    parse(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: =?utf-8?b?QWxpY2U=?= <alice@acme.example>\r\n",
                b"Subject: =?bogus?q?broken=ZZ?=\r\n",
                b'Content-Type: multipart/mixed; boundary="b"\r\n',
                b'Content-Type: text/plain; charset="\xff\xfe"\r\n',
                b"Content-Transfer-Encoding: base64\r\n",
                b"\r\n",
                b"--b\r\n",
                b"--b--\r\n",
                b"SGVsbG8=\r\n",
                b"=E9=\r\n",
                b"\x00\xff garbage\r\n",
                b"Message-ID: <<<>>>\r\n",
                b"In-Reply-To: not an id\r\n",
            ]
        ),
        max_size=30,
    )
)
def test_broken_mime_assembled_from_pieces_never_raises(lines: list[bytes]) -> None:
    parse(b"".join(lines))


@given(st.binary(max_size=300))
def test_every_text_field_can_be_stored_in_a_database(noise: bytes) -> None:
    raw = b"From: " + noise.replace(b"\r", b"").replace(b"\n", b"") + b" <a@acme.example>\r\n"
    raw += b"Subject: " + noise.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n\r\n" + noise
    parsed = parse(raw)
    for text in (parsed.from_name, parsed.subject, parsed.text, *parsed.headers.values()):
        text.encode("utf-8")  # no lone surrogates
        assert "\x00" not in text


def test_undecodable_header_bytes_are_read_as_latin_1_and_nuls_are_dropped() -> None:
    raw = b"From: Caf\xe9 <a@acme.example>\r\nSubject: K\xc3\xb6nig \xe9t\xe9\r\n"
    parsed = parse(raw + b"X-Utf8: K\xc3\xb6nig\r\nX-Plain: plain\r\n\r\nnul\x00 here")
    assert parsed.from_name == "Café"
    # One undecodable byte: the whole value is read as Latin-1, the UTF-8 bytes too.
    assert parsed.subject == "KÃ¶nig été"
    assert parsed.headers["x-utf8"] == "König" and parsed.headers["x-plain"] == "plain"
    assert parsed.text == "nul here"


# ---- Hostile input (issue 16): bounded cost, and the message is still read ----------


@pytest.fixture
def sanitised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What reaches nh3 (recorded and not sanitised: the caps are what is tested)."""
    seen: list[str] = []

    def record(markup: str) -> str:
        seen.append(markup)
        return "<p>sanitised</p>"

    monkeypatch.setattr(parse_module, "sanitise_html", record)
    return seen


def test_html_nested_too_deep_never_reaches_the_sanitiser(sanitised: list[str]) -> None:
    parsed = parse(div_soup(75_000))
    assert sanitised == []
    assert parsed.html == "" and parsed.text.startswith("x\nx\nx")
    assert "too complex to display" in parsed.notice and "Download the original" in parsed.notice
    assert f"HTML nested deeper than {HTML_MAX_DEPTH} elements, not sanitised" in parsed.defects


def test_html_over_the_size_limit_is_cut_before_it_is_sanitised(sanitised: list[str]) -> None:
    markup = "<p>All orders fail since 02:00.</p>\n" * 20_000  # 700 KB, flat
    parsed = parse(build("Orders", "see HTML", html=markup), Limits(html_bytes=256 * 1024))
    [given] = sanitised
    assert len(given) <= 256 * 1024 and given.rstrip().endswith("</p>")
    assert parsed.html == "<p>sanitised</p>" and parsed.text == "see HTML"
    assert "too large to display (722 KB): only its first 256 KB are shown" in parsed.notice


def test_an_ordinary_html_mail_has_no_notice(corpora: Path) -> None:
    for path in corpus_messages(corpora):
        assert parse(path.read_bytes()).notice == "", path


def test_html_depth_counts_nesting_as_a_browser_builds_it() -> None:
    assert html_depth("<p>a<br><img src=x>b</p><p>c</p>") == 1
    assert html_depth("<ul><li>one<li>two<li><b>three</b></ul>") == 3
    assert html_depth("<div><span>unclosed</div><div>next</div>") == 2
    assert html_depth("</div></div><div>x</div>") == 1
    assert html_depth("<div>x" * 75_000) == HTML_MAX_DEPTH + 1  # counting stops there
    assert html_depth("<div>" * 150 + "</div>" * 150, stop=10**6) == 150


def test_multiparts_nested_5000_deep_are_cut_at_the_documented_depth() -> None:
    parsed = parse(nested_multipart(5000))
    assert parsed.readable and parsed.subject == "CRITICAL: nested"
    assert parsed.from_address == "alice@acme.example"
    assert parsed.message_id == "<nested-5000@client.example>"
    assert f"parts nested deeper than {MIME_MAX_DEPTH} levels were read as text" in parsed.defects
    assert "nested more than 50 levels deep" in parsed.notice


def test_multiparts_nested_within_the_depth_are_read_whole() -> None:
    parsed = parse(nested_multipart(6))
    assert parsed.text == "the bottom" and parsed.notice == ""


def test_a_message_rfc822_chain_5000_deep_is_kept_as_an_attachment() -> None:
    parsed = parse(rfc822_chain(5000))
    assert parsed.readable and parsed.subject == "CRITICAL: forwarded"
    [enclosed] = parsed.parts
    assert enclosed.content_type == "message/rfc822" and enclosed.data.startswith(b"From:")
    assert "nested more than 50 levels deep" in parsed.notice


def test_a_report_returning_deeply_nested_headers_is_read() -> None:
    returned = nested_multipart(3000)
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: support@example.com\r\nSubject: failure\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="r"\r\n\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\n'
        + returned
        + b"\r\n--r--\r\n"
    )
    parsed = parse(raw)
    assert parsed.readable and parsed.returned_ids == ["<nested-3000@client.example>"]


def test_the_desk_may_read_a_message_without_sanitising_it(sanitised: list[str]) -> None:
    parsed = parse(build("Hi", "", html="<p>Hello <b>there</b></p>"), Limits(sanitise=False))
    assert sanitised == [] and parsed.html == "" and parsed.text == "Hello there"
