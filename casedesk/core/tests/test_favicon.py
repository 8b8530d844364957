"""Browsers ask every site for /favicon.ico: casedesk answers with its icon, not a 404."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_an_icon_anyone_may_fetch(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age" in response["Cache-Control"]
    body = response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file: reserved 0, type 1 (icon)
    assert b"\x89PNG" in body
