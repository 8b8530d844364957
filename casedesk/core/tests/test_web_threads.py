"""A web process works on at most WEB_THREADS pages at a time, on long-lived threads, in
order of arrival; async views (the chat's long poll) are not held to it (issue 18)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async

from casedesk.core.tests.waiting import wait_until
from casedesk.core.webthreads import BoundedThreads, is_async_view


@dataclass
class Pages:
    """A stand-in for Django's handler: each request runs ``view`` thread-sensitively in
    a context of its own, as Django's ASGIHandler runs middleware and sync views, and
    waits there until released."""

    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    most: int = 0
    started: list[int] = field(default_factory=list)  # in the order they got a thread
    threads: set[str] = field(default_factory=set)

    def view(self, n: int) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        self.release.wait(60)
        with self.lock:
            self.running -= 1

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.started.append(scope["n"])
        async with ThreadSensitiveContext():
            await sync_to_async(self.view, thread_sensitive=True)(scope["n"])


NOTHING: Any = None  # receive and send: the stand-ins use neither


def request(n: int, path: str = "/no-such-page/") -> dict[str, Any]:
    return {"type": "http", "path": path, "n": n}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own, as uvicorn's; the test drives it from here."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(10)
    running.close()


@pytest.mark.no_database
def test_a_process_works_on_at_most_its_threads_pages_at_once_in_order_of_arrival(
    loop: asyncio.AbstractEventLoop,
) -> None:
    pages = Pages()
    bounded = BoundedThreads(pages, 2)

    async def arrive_one_by_one() -> None:
        tasks = []
        for n in range(6):
            tasks.append(asyncio.ensure_future(bounded(request(n), NOTHING, NOTHING)))
            await asyncio.sleep(0)  # each arrives after the one before
        await asyncio.gather(*tasks)

    done = asyncio.run_coroutine_threadsafe(arrive_one_by_one(), loop)
    wait_until(lambda: pages.running == 2, what="two pages to be worked on")
    assert pages.started == [0, 1]  # the other four wait their turn
    assert bounded.busy == 2
    pages.release.set()
    done.result(timeout=60)
    assert pages.most == 2
    assert pages.started == [0, 1, 2, 3, 4, 5]
    assert len(pages.threads) == 2  # the same two threads served all six
    assert all(name.startswith("casedesk-web-") for name in pages.threads)
    assert bounded.busy == 0


@pytest.mark.no_database
def test_a_request_given_up_while_waiting_for_a_thread_takes_none(
    loop: asyncio.AbstractEventLoop,
) -> None:
    pages = Pages()
    bounded = BoundedThreads(pages, 1)
    first = asyncio.run_coroutine_threadsafe(bounded(request(0), NOTHING, NOTHING), loop)
    wait_until(lambda: pages.running == 1, what="the first page to be worked on")
    waiting = asyncio.run_coroutine_threadsafe(bounded(request(1), NOTHING, NOTHING), loop)
    wait_until(lambda: len(bounded._waiting) == 1, what="the second request to wait")
    waiting.cancel()  # the client went away
    wait_until(lambda: not bounded._waiting, what="the cancelled request to leave the queue")
    third = asyncio.run_coroutine_threadsafe(bounded(request(2), NOTHING, NOTHING), loop)
    pages.release.set()
    first.result(timeout=60)
    third.result(timeout=60)
    assert pages.started == [0, 2]
    assert bounded.busy == 0


@pytest.mark.no_database
def test_async_views_keep_a_thread_of_their_own(loop: asyncio.AbstractEventLoop) -> None:
    """The chat's long poll waits up to CHAT_POLL_SECONDS on its thread: it must never
    take one of the pages' threads."""
    from django.urls import reverse

    poll = reverse("chat:poll", args=[1])
    assert is_async_view(poll)
    pages = Pages()
    bounded = BoundedThreads(pages, 1)
    polls = [
        asyncio.run_coroutine_threadsafe(bounded(request(n, poll), NOTHING, NOTHING), loop)
        for n in range(3)
    ]
    wait_until(lambda: pages.running == 3, what="three polls to wait at once")
    assert bounded.busy == 0
    pages.release.set()
    for each in polls:
        each.result(timeout=60)


@pytest.mark.no_database
@pytest.mark.parametrize(
    "path",
    ["/desk/", "/", "/health/", "/no-such-page/", "/%ff%fe/", "/\x00/", "/" + "a/" * 5000, ""],
)
def test_paths_of_sync_views_and_garbage_are_pages(path: str) -> None:
    assert not is_async_view(path)


@pytest.mark.no_database
def test_websockets_pass_through_untouched(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    bounded = BoundedThreads(app, 1)
    asyncio.run_coroutine_threadsafe(
        bounded({"type": "websocket", "path": "/chat/1/socket"}, NOTHING, NOTHING), loop
    ).result(timeout=60)
    assert seen == ["websocket"]
    assert bounded.busy == 0


def test_django_pages_run_on_the_processs_threads(transactional_db: None) -> None:
    """Through casedesk.asgi itself: Django's own per-request context gives way to ours."""
    from casedesk.asgi import application

    answers: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/no-such-page/",
        "raw_path": b"/no-such-page/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    from django.core.signals import request_finished

    # Django sends request_finished from the request's sync thread (response.close()).
    threads: list[str] = []

    def finished(**kwargs: Any) -> None:
        threads.append(threading.current_thread().name)

    request_finished.connect(finished)
    try:
        asyncio.run(application(scope, receive, send))
    finally:
        request_finished.disconnect(finished)
    assert answers[0]["status"] == 404
    assert len(threads) == 1 and threads[0].startswith("casedesk-web-"), threads
