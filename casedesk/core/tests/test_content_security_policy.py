"""Every HTML page carries the strict Content-Security-Policy (``core/csp.py``), and no
template relies on what it forbids (inline script, inline style, event-handler attributes).

The crawl: the demo data, then for a visitor, a customer, an agent and an admin every
URL of the URLconf that takes no argument, and every link those pages lead to (a few
pages per route, so 300 demo cases do not make 300 case pages)."""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from casedesk.accounts.models import User
from casedesk.core import csp
from casedesk.core.demo import load_demo

pytestmark = pytest.mark.django_db

PER_ROUTE = 2  # pages visited per URL pattern
# Links that change state on GET in no view, but are pointless or endless to crawl.
SKIP_PREFIXES = ("/static/", "/accounts/logout/", "/admin/logout/")
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
LINK = re.compile(r"""\shref="([^"#][^"]*)\"""")


def _static_routes(patterns: list[Any] | None = None, prefix: str = "") -> list[str]:
    """Every path of the URLconf without a converter or regex group."""
    found: list[str] = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        text = str(entry.pattern)
        if "<" in text or "(" in text or "^" in text or "$" in text:
            continue
        if isinstance(entry, URLResolver):
            found += _static_routes(entry.url_patterns, prefix + text)
        elif isinstance(entry, URLPattern):
            found.append("/" + prefix + text)
    return found


def _route(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.route


def _is_html(response: Any) -> bool:
    return str(response.get("Content-Type", "")).startswith("text/html")


def _check_policy(path: str, response: Any) -> None:
    header = response.get(csp.HEADER, "")
    assert header, f"{path}: no Content-Security-Policy"
    policy = csp.parse(header)
    assert policy["default-src"] == ["'self'"], path
    for directive in ("script-src", "style-src"):
        assert policy[directive][0] == "'self'", (path, directive)
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[directive]), path
    assert policy["object-src"] == ["'none'"], path
    assert policy["base-uri"] == ["'none'"], path
    assert policy["form-action"] == ["'self'"], path
    assert policy["img-src"] == ["'self'", "data:"], path
    if not path.startswith("/chat/embed/"):
        assert policy["frame-ancestors"] == ["'none'"], path


def _check_markup(path: str, html: str) -> None:
    for name, pattern in (
        ("an inline script", INLINE_SCRIPT),
        ("a style attribute", STYLE_ATTRIBUTE),
        ("a <style> element", STYLE_ELEMENT),
        ("an event-handler attribute", HANDLER_ATTRIBUTE),
    ):
        found = pattern.search(html)
        assert found is None, f"{path} has {name}: {html[found.start() : found.start() + 120]}"


def crawl(client: Client, starts: list[str]) -> dict[str, int]:
    """Visit ``starts`` and the same-site links they lead to; check every HTML page.
    Returns the number of pages (200, HTML) checked per route."""
    queue = deque(starts)
    seen: set[str] = set()
    per_route: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    while queue:
        path = queue.popleft()
        if path in seen or path.startswith(SKIP_PREFIXES):
            continue
        seen.add(path)
        route = _route(urlsplit(path).path)
        if route is None or per_route[route] >= PER_ROUTE:
            continue
        per_route[route] += 1
        response = client.get(path)
        if not _is_html(response):
            continue
        html = response.content.decode()
        _check_policy(path, response)
        _check_markup(path, html)
        if response.status_code == 200:
            checked[route] += 1  # a page shown, not a redirect or a refusal
        for href in LINK.findall(html):
            target = urldefrag(href.replace("&amp;", "&"))[0]
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not target.startswith("/"):
                continue  # elsewhere (or a mailto:)
            queue.append(target)
    return dict(checked)


@pytest.fixture
def demo(calendars: None) -> None:
    load_demo()


def _as(email: str | None) -> Client:
    client = Client()
    if email is not None:
        client.force_login(User.objects.get(email=email))
    return client


@pytest.mark.parametrize(
    ("who", "must_reach"),
    [
        (None, ["", "status/", "hours/", "help/priorities/", "accounts/login/", "help/"]),
        ("alice@acme.example", ["portal/", "portal/new/", "portal/cases/<str:reference>/"]),
        (
            "agent@example.com",
            ["desk/", "desk/cases/<str:reference>/", "desk/chat/", "desk/oncall/"],
        ),
        (
            "admin@example.com",
            ["admin/", "admin/accounts/user/", "admin/cases/case/<path:object_id>/change/"],
        ),
    ],
    ids=["visitor", "customer", "agent", "admin"],
)
def test_every_html_page_has_the_policy_and_nothing_inline(demo, who, must_reach):
    checked = crawl(_as(who), ["/", *_static_routes()])
    missing = [route for route in must_reach if route not in checked]
    assert not missing, f"the crawl never reached {missing}; it saw {sorted(checked)}"
    assert sum(checked.values()) >= 10


def test_error_pages_have_the_policy(db, settings):
    settings.DEBUG = False
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    if _is_html(response):
        _check_policy("/no-such-page/", response)


def test_the_chat_embed_keeps_its_frame_ancestors_inside_the_site_policy(db, settings):
    settings.CHAT_EMBED_ORIGINS = ["https://app.example.com"]
    response = Client().get("/chat/embed/")
    policy = csp.parse(response[csp.HEADER])
    assert policy["frame-ancestors"] == ["https://app.example.com"]
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert "X-Frame-Options" not in response


def test_a_view_with_a_whole_policy_of_its_own_keeps_it():
    assert csp.policy_for("sandbox; default-src 'none'") == "sandbox; default-src 'none'"
    assert csp.policy_for("sandbox") == "sandbox"


def test_the_websocket_origin_of_the_base_url_may_be_connected_to(settings):
    settings.BASE_URL = "https://desk.example.com/support"
    assert csp.site_policy()["connect-src"] == ["'self'", "wss://desk.example.com"]
    settings.BASE_URL = "http://127.0.0.1:8000"
    assert csp.site_policy()["connect-src"] == ["'self'", "ws://127.0.0.1:8000"]


def test_static_files_from_a_cdn_may_be_loaded_and_nothing_else_from_there(settings):
    settings.STATIC_URL = "https://cdn.example.com/assets/"
    policy = csp.site_policy()
    for directive in ("default-src", "script-src", "style-src", "img-src"):
        assert "https://cdn.example.com" in policy[directive], directive
    assert "https://cdn.example.com" not in policy["connect-src"]
    settings.STATIC_URL = "/static/"
    assert csp.site_policy()["script-src"] == ["'self'"]


def test_a_nonce_is_in_the_policy_only_when_a_page_used_it(rf, settings):
    from casedesk.core.csp import ContentSecurityPolicyMiddleware

    def page(use: bool) -> HttpResponse:
        def view(request: Any) -> HttpResponse:
            body = f'<script nonce="{request.csp_nonce}"></script>' if use else ""
            return HttpResponse(body)

        return ContentSecurityPolicyMiddleware(view)(rf.get("/"))

    plain = csp.parse(page(False)[csp.HEADER])
    assert plain["script-src"] == ["'self'"]
    used = page(True)
    nonce = re.search(r'nonce="([^"]+)"', used.content.decode())
    assert nonce is not None
    assert csp.parse(used[csp.HEADER])["script-src"] == ["'self'", f"'nonce-{nonce.group(1)}'"]
