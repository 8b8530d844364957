"""/help/ and /help/<slug>/: what visitors and staff see."""

from __future__ import annotations

import pytest

from casedesk.help.models import Article

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft() -> Article:
    return Article.objects.create(
        slug="new-portal",
        title="The new portal",
        summary="What changes next month.",
        body="Coming **soon**.",
        published=False,
    )


def test_the_index_lists_published_articles_by_title_with_their_summaries(client, draft):
    html = client.get("/help/").content.decode()
    assert html.index("Locked out of your account") < html.index("Logging in")
    assert 'href="/help/lock-out/"' in html
    assert "Why your account is locked after too many wrong passwords" in html
    assert "The new portal" not in html


def test_an_article_page_shows_the_title_and_the_rendered_body(client):
    response = client.get("/help/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Logging in · Help · casedesk</title>" in html
    assert '<h2 id="forgot-your-password">Forgot your password?</h2>' in html
    assert 'href="/help/lock-out/" rel="noopener noreferrer"' in html
    assert "help/help.css" in html


def test_an_unknown_article_is_404(client):
    assert client.get("/help/no-such-article/").status_code == 404


def test_an_unpublished_article_is_404_for_visitors(client, draft):
    assert client.get("/help/new-portal/").status_code == 404


def test_staff_preview_an_unpublished_article_with_a_banner(admin_client, draft):
    response = admin_client.get("/help/new-portal/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "This article is not published: only staff can see it." in html
    assert "Coming <strong>soon</strong>." in html
    assert f'href="/admin/help/article/{draft.pk}/change/"' in html


def test_a_published_article_has_no_draft_banner_even_for_staff(admin_client):
    assert "not published" not in admin_client.get("/help/lock-out/").content.decode()


def test_the_index_hides_drafts_from_staff_too(admin_client, draft):
    assert "The new portal" not in admin_client.get("/help/").content.decode()


def test_a_hostile_body_reaches_the_page_escaped(client):
    Article.objects.create(
        slug="evil", title="<b>Evil</b>", summary="<i>x</i>",
        body='<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>',
    )  # fmt: skip
    html = client.get("/help/evil/").content.decode()
    assert "<script>alert(1)" not in html
    assert 'href="javascript:' not in html
    assert "<img src=x" not in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html


def test_pages_answer_only_get(client):
    assert client.post("/help/login/").status_code == 405
