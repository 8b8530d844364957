"""Database ids in URLs: ``<id:pk>`` matches only what a 64-bit primary key can be.

Django's ``<int:...>`` takes any run of digits: ``/chat/<400 digits>/poll`` reached the
view, whose channel-layer group name ("chat-<id>") was then too long (a 500). With ``id``
anything longer than 19 digits, zero, or past 2**63 - 1 does not match: a 404 before any
view runs. Importing this module registers the converter (the URL modules that use it
import it).
"""

from __future__ import annotations

from django.urls import register_converter

# The largest value of a BigAutoField (and of PostgreSQL's bigint, SQLite's INTEGER).
MAX_ID = 2**63 - 1


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(f"{value} is not a database id")  # no match: a 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
