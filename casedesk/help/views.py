from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from casedesk.help.models import Article


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.published().only("slug", "title", "summary")
    return render(request, "help/index.html", {"articles": articles})


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    # Drafts are a 404 for everyone but staff, who see them with a banner.
    found = get_object_or_404(Article.objects.visible_to(request.user), slug=slug)
    return render(request, "help/article.html", {"article": found, "body": found.body_html()})
