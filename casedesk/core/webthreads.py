"""A fixed set of threads per web process for Django's synchronous request handling.

Under ASGI, Django runs a request's synchronous part (the middleware and a sync view)
on a thread: by default a new thread for every request (asgiref's
``ThreadSensitiveContext``, one executor per request). With many clients at once a
web process then runs as many requests as it has clients, all at the same time, on a
core or two: each gets a slice of the interpreter lock, every page finishes late, and
each needs a database connection of its own at the same moment (the pool's maximum,
then waiting for it). Throughput fell as clients grew (issue 18).

:class:`BoundedThreads` gives each HTTP request one of ``count`` long-lived
single-thread executors (``ThreadSensitiveContext(executor=...)``, which Django's own
context inside then uses); a request arriving while all are busy waits, in the event
loop and costing nothing, for the first to be free, in order of arrival. So a process
works on at most ``count`` pages at a time, finishes each sooner, and needs at most
``count`` pooled connections for them.

Requests for an async view (the chat's long poll, which waits up to
``CHAT_POLL_SECONDS``) keep Django's default, a thread of their own: they hold their
thread while they wait, and must never make a page wait behind them. WebSockets are
not HTTP and pass through untouched.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction
from django.urls import Resolver404, get_resolver

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments its own way


def is_async_view(path: str) -> bool:
    """Whether ``path`` resolves to an async view (which waits, holding its thread)."""
    try:
        match = get_resolver().resolve(path)
    except (Resolver404, UnicodeError, ValueError):
        return False
    return iscoroutinefunction(match.func)


class BoundedThreads:
    def __init__(self, app: ASGIApp, count: int) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.app = app
        self.count = count
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"casedesk-web-{n}")
            for n in range(1, count + 1)
        ]
        self._free: collections.deque[ThreadPoolExecutor] = collections.deque(self._executors)
        self._waiting: collections.deque[asyncio.Future[ThreadPoolExecutor]] = (
            collections.deque()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_async_view(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        executor = await self._take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self._give_back(executor)

    async def _take(self) -> ThreadPoolExecutor:
        if self._free and not self._waiting:
            return self._free.popleft()
        waiter: asyncio.Future[ThreadPoolExecutor] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled (the client went away) after being handed an executor: pass it on.
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())
            raise
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(executor)
                return
        self._free.append(executor)

    @property
    def busy(self) -> int:
        """How many of the threads serve a request now."""
        return self.count - len(self._free)
