"""Calendar names are slugs of at most 50 characters; time zones are IANA names."""

from __future__ import annotations

import pytest

from casedesk.lib.names import is_calendar_name, is_time_zone

pytestmark = pytest.mark.no_database  # pure helpers: the PostgreSQL pass skips it


@pytest.mark.parametrize("name", ["default", "24x7", "emea-support", "a_b", "x" * 50])
def test_slugs_up_to_50_characters_are_calendar_names(name):
    assert is_calendar_name(name)


@pytest.mark.parametrize("name", ["", "x" * 51, "Not A Slug!", "a\x00b", "../default", "default\n"])
def test_anything_else_is_not_a_calendar_name(name):
    assert not is_calendar_name(name)


def test_time_zones_come_from_the_zone_database():
    assert is_time_zone("America/Chicago")
    assert is_time_zone("Asia/Kathmandu")
    assert not is_time_zone("America/Chikago")
    assert not is_time_zone("../../etc/passwd")
    assert not is_time_zone("")
