"""Help articles: pages an admin writes in Markdown, shown at /help/<slug>/."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from casedesk.help.placeholders import article_values
from casedesk.help.rendering import render_markdown


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self) -> ArticleQuerySet:
        return self.filter(published=True)

    def visible_to(self, user: Any) -> ArticleQuerySet:
        """What this user may open: published articles, and drafts too for staff (a preview)."""
        return self if getattr(user, "is_staff", False) else self.published()


class Article(models.Model):
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="The page is /help/ followed by this: lock-out is /help/lock-out/.",
    )
    title = models.CharField(max_length=200)
    summary = models.CharField(
        max_length=300, help_text="One or two sentences shown under the title on /help/."
    )
    body = models.TextField(blank=True, help_text="Markdown.")
    published = models.BooleanField(
        default=True, help_text="Unpublished articles are only shown to staff, as a preview."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("help:article", kwargs={"slug": self.slug})

    def body_html(self) -> SafeString:
        """The body with today's settings filled in, as sanitised HTML."""
        # Safe because render_markdown has just passed it through nh3.
        return mark_safe(render_markdown(self.body, article_values()))  # noqa: S308
