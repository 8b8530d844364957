"""Real bounces (and mail that only looks like one) through the real pipeline, one test each.

The messages are in ``data/bounces/`` (anonymised; SOURCES.md says where each comes
from), plus the delivery reports in ``../shared/corpora/`` that are read from there.
``data/bounces/manifest.toml`` says what each one is. Each is stored as the SMTP
receiver stores it (with the null envelope sender where the source shows one) and
processed as the worker's task processes it (``process()``, in the test's transaction:
a transactional test per message cost the suite two minutes of flushes):

- a bounce ends in state ``bounce`` with a Bounce row for the failed address (or one of
  them, when several failed) and the status class the message states, and opens no case, sends no auto-reply and pages
  nobody;
- anything else is not a bounce (no Bounce row).

Messages today's code gets wrong carry ``xfail`` in the manifest: they are marked
``xfail(strict=True)``, so a fix turns the test red until the mark is removed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.core import mail as outbox
from django_tasks_db.models import DBTaskResult

from casedesk.cases.models import Case
from casedesk.mail.models import Bounce, InboundMessage, State
from casedesk.mail.process import process
from casedesk.mail.store import store
from casedesk.mail.tasks import process_message
from casedesk.oncall.models import Page
from conftest import CORPORA

DATA = Path(__file__).resolve().parent / "data" / "bounces"
PROCESS_TASK = process_message.module_path
SHAPES = {"dsn", "dsn-broken", "plain-text", "auto-submitted", "ses-json", "gateway", "provider"}
KINDS = {"auto-reply", "complaint", "receipt", "human"}


def manifest() -> list[dict[str, Any]]:
    """The manifest's entries, in its order."""
    return list(tomllib.loads((DATA / "manifest.toml").read_text("utf-8"))["message"])


def entry_name(entry: dict[str, Any]) -> str:
    return str(entry.get("file") or entry["corpus"])


def raw_of(entry: dict[str, Any]) -> bytes:
    """The message's bytes: from this folder, or from ../shared/corpora (skip if absent)."""
    if "file" in entry:
        return (DATA / str(entry["file"])).read_bytes()
    path = CORPORA / str(entry["corpus"])
    if not path.is_file():
        pytest.skip(f"{entry['corpus']} not found under {CORPORA} (../shared/corpora/)")
    return path.read_bytes()


def _params() -> list[Any]:
    params = []
    for entry in manifest():
        marks = []
        if entry.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=entry["xfail"]))
        params.append(pytest.param(entry, id=entry_name(entry), marks=marks))
    return params


def test_the_manifest_names_every_sample_once_with_a_complete_expectation() -> None:
    entries = manifest()
    files = [e["file"] for e in entries if "file" in e]
    assert len(files) == len(set(files))
    assert set(files) == {p.name for p in DATA.glob("*.eml")}
    for entry in entries:
        name = entry_name(entry)
        assert ("file" in entry) != ("corpus" in entry), name
        assert isinstance(entry.get("heldout", False), bool), name
        if entry["bounce"]:
            assert entry["shape"] in SHAPES, name
            assert "@" in entry["address"], name
            assert entry["action"] in ("failed", "delayed"), name
            assert entry["status"][:1] in ("4", "5"), name
        else:
            assert entry["what"] in KINDS, name


def test_the_samples_hold_no_address_outside_the_reserved_domains() -> None:
    from casedesk.mail.tests.data.bounces.anonymise import review

    left = {path.name: review(path) for path in sorted(DATA.glob("*.eml"))}
    addresses = {name: [t for t in found if "@" in t] for name, found in left.items()}
    assert not {name: found for name, found in addresses.items() if found}


@pytest.mark.parametrize("entry", _params())
def test_corpus_message(entry: dict[str, Any], mail_setup: None, db: None) -> None:
    raw = raw_of(entry)
    envelope = entry.get("envelope_from")
    stored = store(
        raw,
        source="smtp" if envelope is not None else "pipe",
        envelope_from=envelope,
        recipients=["support@example.com"],
    )
    process(stored.message.pk)
    message = InboundMessage.objects.get(pk=stored.message.pk)
    bounces = list(Bounce.objects.filter(message=message))
    if not entry["bounce"]:
        assert message.state != State.BOUNCE, message.outcome
        assert not bounces
        return
    assert message.state == State.BOUNCE, message.outcome
    found = {(b.address.lower(), b.status[:1]) for b in bounces}
    expected = {
        (a.lower(), entry["status"][:1]) for a in [entry["address"], *entry.get("others", [])]
    }
    assert expected & found, (message.outcome, found)
    assert not Case.objects.exists()
    # Nothing else to do: no auto-reply, no notice, no page (only its own task was queued).
    queued = DBTaskResult.objects.exclude(task_path=PROCESS_TASK)
    assert not list(queued.values_list("task_path", flat=True))
    assert not outbox.outbox
    assert not Page.objects.exists()


# ---- The anonymising script (data/bounces/anonymise.py) ------------------------------


def test_anonymising_maps_each_real_domain_to_one_example_name_and_keeps_role_parts() -> None:
    from casedesk.mail.tests.data.bounces.anonymise import anonymise

    raw = (
        b"From: MAILER-DAEMON@mx1.bigcorp.com\r\nTo: jane.roe@bigcorp.com\r\n\r\n"
        b"<jane.roe@bigcorp.com>: host mail.bigcorp.com[8.8.4.4] said: 550 5.1.1\r\n"
        b"mailbox jane.roe unknown; see alice@example.org\r\n"
    )
    out = anonymise(raw).decode()
    assert "bigcorp" not in out and "jane.roe" not in out and "8.8.4.4" not in out
    assert out.count("@mx1.d") == 1 and "MAILER-DAEMON@mx1.d" in out  # role kept
    assert len(set(re.findall(r"\bd[0-9a-f]{6}\.example\b", out))) == 1  # one bigcorp.com
    assert len(set(re.findall(r"\bu[0-9a-f]{6}@", out))) == 1  # one jane.roe, also alone
    assert "alice@example.org" in out  # already reserved: untouched
    assert "550 5.1.1" in out and out.count("\r\n") == raw.count(b"\r\n")


def test_anonymising_keeps_a_mime_boundary_whole() -> None:
    from casedesk.mail.tests.data.bounces.anonymise import anonymise

    raw = (
        b'Content-Type: multipart/report; boundary="8F3.1/mail.bigcorp.com"\r\n\r\n'
        b"--8F3.1/mail.bigcorp.com\r\n\r\ntext\r\n--8F3.1/mail.bigcorp.com--\r\n"
    )
    out = anonymise(raw).decode()
    boundary = out.split('boundary="', 1)[1].split('"', 1)[0]
    assert "bigcorp" not in out
    assert f"--{boundary}\r\n" in out and f"--{boundary}--\r\n" in out


def test_anonymising_garbage_gives_bytes_back_and_keeps_what_it_does_not_recognise() -> None:
    import random

    from casedesk.mail.tests.data.bounces.anonymise import anonymise

    rng = random.Random(17)
    for _ in range(200):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(400)))
        assert isinstance(anonymise(garbage), bytes)
        plain = garbage.replace(b"@", b"").replace(b".", b"").replace(b":", b"")
        assert anonymise(plain) == plain  # no address, domain or IP: every byte kept
