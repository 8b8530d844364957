"""Durations and rates in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk.lib.durations import describe_rate, humanize_duration
from casedesk.lib.env import Rate

pytestmark = pytest.mark.no_database  # pure helpers: the PostgreSQL pass skips it


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(hours=2, minutes=30), "2 hours 30 minutes"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=7), "7 days"),
        (timedelta(hours=36), "36 hours"),
        (timedelta(days=2, hours=3), "2 days 3 hours"),
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(seconds=90), "90 seconds"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(days=1, minutes=30), "24 hours 30 minutes"),
        (timedelta(0), "0 seconds"),
    ],
)
def test_humanize_duration_says_it_as_a_person_would(duration, words):
    assert humanize_duration(duration) == words


def test_humanize_duration_drops_fractions_of_a_second():
    assert humanize_duration(timedelta(minutes=30, microseconds=999_999)) == "30 minutes"


def test_humanize_duration_refuses_a_negative_duration():
    with pytest.raises(ValueError, match="negative"):
        humanize_duration(timedelta(minutes=-5))


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        (Rate(3, timedelta(hours=1)), "3 per hour"),
        (Rate(1, timedelta(days=1)), "1 per day"),
        (Rate(3, timedelta(hours=2)), "3 every 2 hours"),
        (Rate(20, timedelta(minutes=90)), "20 every 90 minutes"),
        (Rate(50, timedelta(minutes=15)), "50 every 15 minutes"),
    ],
)
def test_describe_rate(rate, words):
    assert describe_rate(rate) == words
