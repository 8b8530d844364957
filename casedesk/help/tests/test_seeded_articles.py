"""The articles the migrations ship: present, quoting the settings, never overwritten."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from casedesk.help.models import Article
from casedesk.help.seed import ARTICLES, LOCKOUT_SLUG, ensure_articles
from casedesk.lib.env import Rate

pytestmark = pytest.mark.django_db


def body_of(slug: str) -> str:
    """The rendered body with line breaks and runs of spaces as single spaces."""
    return " ".join(Article.objects.get(slug=slug).body_html().split())


def test_the_migrations_seed_the_lock_out_and_login_articles():
    assert set(Article.objects.values_list("slug", flat=True)) >= {"lock-out", "login"}
    lockout = Article.objects.get(slug=LOCKOUT_SLUG)
    assert lockout.title == "Locked out of your account"
    assert lockout.published


def test_the_lock_out_article_quotes_the_configured_numbers():
    html = body_of("lock-out")
    assert "After 5 wrong passwords within 15 minutes" in html
    assert "30 minutes after it started" in html
    assert "The link works for 1 hour and only once" in html
    assert "reset emails to one address are limited to 3 per hour." in html
    assert "{{" not in html  # every placeholder in the seed is a known one


def test_the_lock_out_article_links_to_reset_login_and_hours():
    html = body_of("lock-out")
    assert 'href="/accounts/password_reset/"' in html
    assert 'href="/accounts/login/"' in html
    assert 'href="/hours/"' in html
    assert "<strong>Critical</strong> in the subject line" in html


def test_the_login_article_covers_reset_invitation_two_factor_and_lock_out():
    html = body_of("login")
    for heading in ("Forgot your password?", "Your first log-in", "Two-factor authentication"):
        assert heading in html
    assert "The link works for 7 days." in html
    assert 'href="/accounts/two-factor/"' not in html  # staff only: a 403 for customers
    assert 'href="/accounts/"' in html
    assert "6-digit code" in html
    assert 'href="/help/lock-out/"' in html
    assert "{{" not in html


def test_no_seeded_article_names_a_real_address_or_phone_number():
    """Contact details come from settings through placeholders, never from the text."""
    for article in ARTICLES:
        assert "@" not in article.body
        assert not re.search(r"\d{3}[ .-]?\d{4}", article.body)


def test_the_lock_out_article_gives_the_configured_emergency_contacts(client, settings):
    settings.SUPPORT_EMAILS = ["help@vendor.example"]
    settings.EMERGENCY_PHONE = "+15555550199"
    html = client.get("/help/lock-out/").content.decode()
    assert "help@vendor.example" in html and "+15555550199" in html


def test_the_lock_out_page_follows_a_changed_setting(client, settings):
    settings.LOCKOUT_DURATION = timedelta(hours=2)
    settings.RATE_RESET_PER_ADDRESS = Rate(2, timedelta(hours=6))
    html = " ".join(client.get("/help/lock-out/").content.decode().split())
    assert "The lock ends by itself 2 hours after it started." in html
    assert "limited to 2 every 6 hours." in html


def test_seeding_again_never_overwrites_an_admins_edit():
    Article.objects.filter(slug="lock-out").update(title="Locked out?", body="Call us.")
    Article.objects.filter(slug="login").delete()
    assert ensure_articles() == ["login"]
    edited = Article.objects.get(slug="lock-out")
    assert (edited.title, edited.body) == ("Locked out?", "Call us.")


def test_an_upgrade_moves_the_login_article_off_the_staff_only_link_unless_an_admin_edited_it():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("casedesk.help.migrations.0003_login_article_without_staff_link")
    login = Article.objects.get(slug="login")
    login.body = migration.SEEDED_BODY
    login.save()
    migration.forwards(apps, None)
    login.refresh_from_db()
    assert "/accounts/two-factor/" not in login.body
    assert "[your account](/accounts/)" in login.body

    login.body = migration.SEEDED_BODY + "\nOur own words."
    login.save()
    migration.forwards(apps, None)
    login.refresh_from_db()
    assert login.body.endswith("Our own words.")  # edited by an admin: left alone
