"""The shared cache: Redis when REDIS_URL is set (CI's PostgreSQL pass), memory otherwise."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.core.cache import cache


def test_the_cache_backend_follows_REDIS_URL():
    backend = settings.CACHES["default"]["BACKEND"]
    if os.environ.get("REDIS_URL"):
        assert backend == "django.core.cache.backends.redis.RedisCache"
    else:
        assert backend == "django.core.cache.backends.locmem.LocMemCache"


def test_the_configured_cache_stores_and_expires_values():
    key = f"test:{uuid.uuid4()}"
    cache.set(key, {"open": True}, timeout=30)
    assert cache.get(key) == {"open": True}
    cache.delete(key)
    assert cache.get(key) is None
