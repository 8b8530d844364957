"""Reading a message parses each header once, and gives what parsing it every time gave."""

from __future__ import annotations

import email
from email import policy
from email.message import Message
from email.policy import EmailPolicy
from pathlib import Path

import pytest

from casedesk.mail import parse as parse_module
from casedesk.mail.parse import message_from_bytes, parse
from casedesk.mail.tests.conftest import build
from casedesk.mail.tests.test_parse import corpus_messages

DATA = Path(__file__).parent / "data"


def test_a_header_read_again_is_the_object_built_the_first_time() -> None:
    raw = build(html="<p>Hi</p>", attachments=[("log.txt", "text/plain", b"x")])
    msg, _ = message_from_bytes(raw)
    for part in msg.walk():
        assert part.get("content-type") is part.get("content-type")
    assert msg.get_content_type() == "multipart/mixed"
    # Two parts of one message with the same raw Content-Type share one header object.
    twins, _ = message_from_bytes(build(attachments=[("a.txt", "text/plain", b"a")] * 2))
    attached = [p.get("content-type") for p in twins.walk() if p.get_filename() == "a.txt"]
    assert len(attached) == 2 and attached[0] is attached[1]


def test_each_message_has_its_own_header_cache() -> None:
    first, _ = message_from_bytes(build())
    second, _ = message_from_bytes(build())
    assert first.policy is not second.policy
    assert first.get("content-type") == second.get("content-type")
    assert first.get("content-type") is not second.get("content-type")


def test_every_corpus_message_reads_as_with_a_header_parsed_at_every_access(
    corpora: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [*corpus_messages(corpora), *sorted((DATA / "bounces").rglob("*.eml"))]
    messages = [path.read_bytes() for path in paths]
    assert len(messages) > 300
    cached = [parse(raw) for raw in messages]
    # No cache: each access builds the header again, as policy.default does.
    monkeypatch.setattr(
        parse_module._ReadPolicy, "header_fetch_parse", EmailPolicy.header_fetch_parse
    )
    assert [parse(raw) for raw in messages] == cached


def test_the_fields_come_from_one_reading_of_the_headers() -> None:
    raw = (
        b"From: =?utf-8?q?Ana_K=C3=B6nig?= <Ana@Org1.example>\r\n"
        b"To: support@example.com\r\nSubject: =?utf-8?q?first_=C3=A9?=\r\n  folded\r\n"
        b"To: other@example.com, Bob <bob@org2.example>\r\nSubject: second\r\n"
        b"Message-ID: <one@client.example>\r\nIn-Reply-To: <a@x> <b@x>\r\n"
        b"References: <r@x>\r\nDate: Sat, 28 Nov 2026 02:00:00 -0600\r\n\r\nbody\r\n"
    )
    parsed = parse(raw)
    # Every To: header counts; of the others, the first one, as in parsed.headers.
    assert parsed.to == ["support@example.com", "other@example.com", "bob@org2.example"]
    assert (parsed.from_name, parsed.from_address) == ("Ana König", "ana@org1.example")
    assert parsed.subject == "first é folded" == parsed.headers["subject"]
    assert parsed.message_id == "<one@client.example>"
    assert parsed.in_reply_to == ["<a@x>", "<b@x>"] and parsed.references == ["<r@x>"]
    assert parsed.date == parsed.header("Date") == "Sat, 28 Nov 2026 02:00:00 -0600"


def test_header_classes_are_made_once_per_kind_of_header() -> None:
    names = b"".join(b"X-Own-%d: value\r\n" % n for n in range(300))
    first, _ = message_from_bytes(build(headers={"X-One": "1"}))
    second, _ = message_from_bytes(names + build())
    assert type(first.get("subject")) is type(second.get("subject"))
    assert type(first.get("content-type")) is type(second.get("content-type"))
    assert type(first.get("subject")) is not type(first.get("content-type"))
    own = {type(second.get(f"x-own-{n}")) for n in range(300)}
    assert own == {type(first.get("x-one"))}
    factory = parse_module._READ_POLICY.header_factory
    assert isinstance(factory, parse_module._HeaderClasses) and len(factory._made) < 20


def test_an_enclosed_message_is_written_out_as_policy_default_writes_it(corpora: Path) -> None:
    forwarded = [
        raw
        for raw in (path.read_bytes() for path in corpus_messages(corpora))
        if b"message/rfc822" in raw.lower()
    ]
    seen = 0
    for raw in forwarded:
        plain = email.message_from_bytes(raw, policy=policy.default)
        written = {
            inner.as_bytes(policy=policy.default.clone(linesep="\r\n"))
            for part in plain.walk()
            if part.get_content_type() == "message/rfc822"
            and isinstance(inner := part.get_payload(0), Message)
        }
        eml = [p.data for p in parse(raw).parts if p.content_type == "message/rfc822"]
        assert set(eml) <= written
        seen += len(eml)
    assert seen > 5
