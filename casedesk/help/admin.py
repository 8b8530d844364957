from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from casedesk.help.models import Article
from casedesk.help.placeholders import placeholders
from casedesk.help.seed import ARTICLES

# Code and other articles link to these (the lock-out message to /help/lock-out/).
LINKED_SLUGS = {article.slug for article in ARTICLES}


def body_help_text() -> SafeString:
    """Markdown hints and every placeholder with its meaning and current value."""
    rows = format_html_join(
        "",
        "<li><code>{{{{ {} }}}}</code>: {} (now <strong>{}</strong>)</li>",
        ((p.name, p.meaning, p.value) for p in placeholders()),
    )
    return format_html(
        "Markdown: <code># Section</code>, <code>**bold**</code>, <code>[text](/hours/)</code>, "
        "lists, tables and <code>```</code> code blocks. HTML tags and images are not shown. "
        "The title is the page's main heading, so start sections with <code>#</code>. "
        "These placeholders are replaced by the current settings; an unknown one stays "
        "visible as typed:<ul>{}</ul>",
        rows,
    )


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin[Article]):
    list_display = ["title", "slug", "published", "updated_at"]
    list_filter = ["published"]
    search_fields = ["title", "slug", "summary", "body"]
    prepopulated_fields = {"slug": ["title"]}
    fields = ["title", "slug", "summary", "body", "published", "preview", "updated_at"]
    readonly_fields = ["preview", "updated_at"]

    class Media:
        css = {"all": ["help/admin-preview.css"]}

    @admin.display(description="Preview")
    def preview(self, obj: Article) -> SafeString | str:
        if obj.pk is None:
            return "Save the article (and continue editing) to see it rendered here."
        return format_html('<div class="help-body help-preview">{}</div>', obj.body_html())

    def get_form(
        self, request: HttpRequest, obj: Article | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Article]]:
        form = super().get_form(request, obj, change, **kwargs)
        if "body" in form.base_fields:
            form.base_fields["body"].help_text = body_help_text()
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Article | None = None) -> list[str]:
        # A renamed lock-out article would leave the lock-out message pointing at a 404.
        if obj is not None and obj.slug in LINKED_SLUGS:
            # Unpublished, it would 404 just the same.
            return [*self.readonly_fields, "slug", "published"]
        return list(self.readonly_fields)

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Article | None = None
    ) -> dict[str, Any]:
        # Only while adding: a slug is an address, and editing a title must not move it.
        return dict(self.prepopulated_fields) if obj is None else {}

    def has_delete_permission(self, request: HttpRequest, obj: Article | None = None) -> bool:
        # Unpublish instead: the links to these articles are in code and other articles.
        if obj is not None and obj.slug in LINKED_SLUGS:
            return False
        return super().has_delete_permission(request, obj)
