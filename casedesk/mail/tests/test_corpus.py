"""Every real message in ../shared/corpora ends in exactly one stated outcome, via the worker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from casedesk.accounts.models import Organization, OrganizationDomain
from casedesk.mail.models import Bounce, InboundMessage, State
from casedesk.mail.parse import parse
from casedesk.mail.store import store
from casedesk.mail.tests.test_parse import corpus_messages

pytestmark = pytest.mark.django_db(transaction=True)

FINAL = {State.CREATED, State.REPLIED, State.BOUNCE, State.IGNORED, State.NEEDS_ATTENTION}


def test_every_corpus_message_ends_in_one_stated_outcome(
    corpora: Path, mail_setup: None, run_tasks: Any
) -> None:
    paths = corpus_messages(corpora)
    # One customer organization claims every sender domain, so no message waits
    # on the unknown-sender queue and each one reaches a final outcome.
    corpus = Organization.objects.create(name="Corpus senders")
    domains = {parse(p.read_bytes()).from_address.rpartition("@")[2] for p in paths} - {""}
    OrganizationDomain.objects.bulk_create(
        OrganizationDomain(organization=corpus, domain=d) for d in sorted(domains)
    )
    by_path = {}
    for path in paths:
        stored = store(path.read_bytes(), source="pipe", envelope_from=None)
        by_path[path.relative_to(corpora).as_posix()] = stored.message.pk
    run_tasks()

    messages = {m.pk: m for m in InboundMessage.objects.all()}
    states = Counter(m.state for m in messages.values())
    assert set(states) <= FINAL, states
    for message in messages.values():
        assert message.outcome, message.pk
        if message.state in (State.IGNORED, State.NEEDS_ATTENTION):
            assert message.reason.strip(), message.outcome
        if message.state in (State.CREATED, State.REPLIED):
            assert message.case_id is not None

    def state_of(name: str) -> str:
        return messages[by_path[name]].state

    assert state_of("flanker/bounce/zed.eml") == State.BOUNCE
    assert state_of("flanker/bounce/office365.eml") == State.BOUNCE
    assert Bounce.objects.filter(status="5.1.10", address="noname@example.com").exists()
    assert state_of("flanker/signed.eml") == State.CREATED
    assert state_of("talon/standard_replies/gmail.eml") == State.CREATED
    assert state_of("flanker/disposition-notification.eml") == State.IGNORED
    assert state_of("flanker/complaints/aol.eml") == State.IGNORED
    assert state_of("mail-parser/mail_outlook_1") == State.NEEDS_ATTENTION  # no From at all
    # Nothing critical: none of these subjects says so.
    assert not InboundMessage.objects.filter(outcome__endswith=" Critical").exists()
