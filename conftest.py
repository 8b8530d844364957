"""Fixtures shared by every test: see each app's tests/ for the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent
CORPORA = REPO.parent / "shared" / "corpora"


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    """Each test's database starts from the migrations: forget clocks built from another's."""
    from casedesk.hours.services import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def calendars(django_db_blocker: Any) -> None:
    """The calendars the migrations seed, for transactional tests (whose flush removes them)."""
    from casedesk.hours.defaults import ensure_calendars

    with django_db_blocker.unblock():
        ensure_calendars()


@pytest.fixture
def corpora() -> Path:
    """Real-world test material beside the project (never committed into it)."""
    if not CORPORA.is_dir():
        pytest.skip(f"test corpora not found at {CORPORA} (they live in ../shared/corpora/)")
    return CORPORA
