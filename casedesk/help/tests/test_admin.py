"""Editing articles in the admin: the preview, the placeholder help, protected articles."""

from __future__ import annotations

import pytest

from casedesk.help.models import Article

pytestmark = pytest.mark.django_db


def test_the_admin_lists_articles(admin_client):
    html = admin_client.get("/admin/help/article/").content.decode()
    assert "Locked out of your account" in html and "Logging in" in html


def test_the_preview_shows_the_rendered_sanitised_body(admin_client):
    article = Article.objects.create(
        slug="try", title="Try", summary="s",
        body='**Bold** {{ lockout_failures }} <script>alert(1)</script> [x](javascript:alert(1))',
    )  # fmt: skip
    html = admin_client.get(f"/admin/help/article/{article.pk}/change/").content.decode()
    assert "<strong>Bold</strong> 5" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as typed
    assert 'href="javascript:' not in html


def test_the_body_help_lists_placeholders_with_their_current_values(admin_client, settings):
    settings.LOCKOUT_FAILURES = 7
    html = admin_client.get("/admin/help/article/add/").content.decode()
    assert "<code>{{ lockout_failures }}</code>" in html
    assert "(now <strong>7</strong>)" in html
    assert "<code>{{ reset_emails }}</code>" in html


def test_a_new_article_can_be_added_and_is_then_public(admin_client, client):
    response = admin_client.post(
        "/admin/help/article/add/",
        {
            "title": "Status page",
            "slug": "status-page",
            "summary": "Where to see outages.",
            "body": "See [the status page](/status/).",
            "published": "on",
        },
    )
    assert response.status_code == 302
    assert Article.objects.get(slug="status-page").title == "Status page"


def test_the_lock_out_article_keeps_its_address_and_cannot_be_deleted(admin_client):
    article = Article.objects.get(slug="lock-out")
    html = admin_client.get(f"/admin/help/article/{article.pk}/change/").content.decode()
    assert 'name="slug"' not in html
    assert admin_client.post(f"/admin/help/article/{article.pk}/delete/").status_code == 403
    assert Article.objects.filter(slug="lock-out").exists()


def test_other_articles_can_be_renamed(admin_client):
    article = Article.objects.create(slug="old", title="Old", summary="s", body="b")
    html = admin_client.get(f"/admin/help/article/{article.pk}/change/").content.decode()
    assert 'name="slug"' in html


def test_the_lock_out_article_cannot_be_unpublished(admin_client):
    """Every locked-out customer is sent to it: unpublished, it would be a 404."""
    article = Article.objects.get(slug="lock-out")
    page = admin_client.get(f"/admin/help/article/{article.pk}/change/").content.decode()
    assert 'name="published"' not in page
