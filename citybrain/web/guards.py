"""Budgets for hostile or careless clients: request rate limits, a body-size cap, bounded hashing.

Rate limits use the `limits` library (moving window, in this process's memory): each web
server counts on its own, so N servers behind a balancer allow up to N times the rate. That
bounds what one client can cost a server, which is the point; a shared storage (`limits`
supports Redis and others) would make the budget global.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# Every response: scripts only from this origin (no inline code), never framed (clickjacking),
# no type sniffing. Inline style attributes stay allowed: the map legend colours use them.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def security_headers(tile_origin: str = "") -> dict[str, str]:
    """SECURITY_HEADERS, with images also allowed from the configured basemap's tile server
    (web.map.style); without one the map draws only its own vector layers."""
    if not tile_origin:
        return dict(SECURITY_HEADERS)
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:", f"img-src 'self' data: {tile_origin}"
    )
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


@lru_cache(maxsize=64)
def _items(rule: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rule))


class RateLimits:
    """`hit(rule, *key)`: None if allowed, else the seconds until it would be."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, rule: str, *key: str) -> float | None:
        items = _items(rule)
        # Test every window first, so a refused request spends none of the others' budget.
        for item in items:
            if not self._limiter.test(item, *key):
                return self.retry_after(item, *key)
        for item in items:
            self._limiter.hit(item, *key)
        return None

    def blocked(self, rule: str, *key: str) -> float | None:
        """Like hit, without counting: for budgets spent only on failure (wrong passwords)."""
        for item in _items(rule):
            if not self._limiter.test(item, *key):
                return self.retry_after(item, *key)
        return None

    def spend(self, rule: str, *key: str) -> None:
        for item in _items(rule):
            self._limiter.hit(item, *key)

    def retry_after(self, item: RateLimitItem, *key: str) -> float:
        reset = self._limiter.get_window_stats(item, *key).reset_time
        return max(1.0, reset - time.time())


class HashSlots:
    """At most `n` password checks at once: each argon2 check takes 64 MiB, so unbounded
    parallel attempts are a memory attack. A caller that waits longer than `wait_s` is
    refused rather than queued for ever."""

    def __init__(self, n: int, wait_s: float = 5.0) -> None:
        self._sem = threading.BoundedSemaphore(n)
        self.wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields whether a slot was had (released on leaving)."""
        got = self._sem.acquire(timeout=self.wait_s)
        try:
            yield got
        finally:
            if got:
                self._sem.release()


class StreamSlots:
    """At most `n` open streams per key (a user): each live feed holds a connection and a
    database read per interval, so one account cannot open hundreds."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        with self._lock:
            if self._open.get(key, 0) >= self.n:
                return False
            self._open[key] = self._open.get(key, 0) + 1
            return True

    def give_back(self, key: str) -> None:
        with self._lock:
            left = self._open.get(key, 0) - 1
            if left > 0:
                self._open[key] = left
            else:
                self._open.pop(key, None)


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` is refused with 413 before it is read whole,
    whether it declares its length or streams it chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        too_large = False
        try:
            await self.app(scope, counted, watched)
        except* _TooLarge:  # raised in the app's receive, maybe inside a task group
            too_large = True
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
