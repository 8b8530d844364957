"""Cheap public responses: bytes cached per page version, ETags and 304s.

Every change bumps ``Page.version`` (services, signals); the cache key holds the
version, so each web process finds out with one indexed query whether its copy
is current, whether the cache is local memory (one per process) or Redis. The
rendered bytes are cached, so a hit costs the version query and a dictionary
look-up; a matching ``If-None-Match`` costs the same and sends no body.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from casedesk.status.models import Page

Entry = tuple[str, bytes, str]  # etag, body, content type


_memo: tuple[float, str] | None = None


def page_version() -> str:
    """The page's id and version: a database rebuilt from scratch (a new page id) never
    meets a copy cached for the old one (a shared Redis cache outlives databases).

    Each process remembers the answer for ``STATUS_VERSION_TTL`` seconds: with
    connections closed after every request, the query's connection costs twice the
    rest of a cached response. A change made in this process forgets it at once
    (``forget_version``); other processes see it within the TTL (0 turns this off).
    """
    global _memo
    now = time.monotonic()
    memo = _memo
    if memo is not None and now - memo[0] < settings.STATUS_VERSION_TTL:
        return memo[1]
    row = Page.objects.values_list("public_id", "version").first()
    version = f"{row[0]}.{row[1]}" if row else "none"
    _memo = (now, version)
    return version


def forget_version() -> None:
    global _memo
    _memo = None


def cached(
    request: HttpRequest,
    parts: tuple[str, ...],
    build: Callable[[], tuple[bytes, str]],
    *,
    max_age: int | None = None,
    cors: bool = False,
) -> HttpResponse:
    """Answer from the cache (or build and cache) with an ETag, 304 when it matches."""
    key = "status:" + ":".join((*parts, page_version()))
    entry: Entry | None = cache.get(key)
    if entry is None:
        body, content_type = build()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        entry = (etag, body, content_type)
        cache.set(key, entry, settings.STATUS_CACHE_SECONDS)
    etag, body, content_type = entry
    age = settings.STATUS_MAX_AGE if max_age is None else max_age
    tags = _etags(request.headers.get("If-None-Match", ""))
    if etag in tags or "*" in tags:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={age}"
    if cors:
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Expose-Headers"] = "ETag"  # for If-None-Match from scripts
    return response


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compared as strong)."""
    if header.strip() == "*":
        return {"*"}
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
