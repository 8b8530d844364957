"""Fixtures of the cases tests (the named people and ``open_case`` are in the root conftest)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def desk(agent: Any) -> Client:
    """A browser logged in as Sam the agent."""
    client = Client()
    client.force_login(agent)
    return client
