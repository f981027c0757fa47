"""The live dashboard feed: one message format, sent as server-sent events.

Every message is `{"cursor", "reset", "incidents", "hidden", "panels": {name: data}}`:
`incidents` are the rows written since the client's cursor (upserted by id on the page; all
open ones when `reset`), and `panels` holds one entry per item of `PANELS`. A panel is a name
and a function of the request's context, so a new panel (e.g. hot spots) is one line here and,
if it wants more than the page's generic table, one renderer in static/dashboard.js.

The event id is the cursor: every incident written before it has been sent. It trails the
time of the read by a short overlap, because a writer's commit can land a little after the
timestamp it wrote; rows inside the overlap may arrive twice, which the page's upsert by id
absorbs. A browser that loses its connection reconnects with `Last-Event-ID` and gets what was
written since; if that is more than the map shows, it gets a fresh snapshot instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from fastapi import Request

from citybrain.config.web import WebSettings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.web_queries import Scope, WebStore
from citybrain.web import health
from citybrain.web.access import panel_allowed
from citybrain.web.auth import Principal
from citybrain.web.hot_issues import hot_issue_json
from citybrain.web.hotspots import hotspot_json

OVERLAP = timedelta(seconds=2)


class PanelCache:
    """Panel results shared by every connection with the same scope for a short while, so a
    wall of screens costs the database what one screen does. Live streams run in the server's
    thread pool: the book is kept under a lock (the build, a database read, outside it)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, Scope], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, Scope], ttl_s: float, build: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self.entries.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
        value = build()
        with self._lock:
            self.entries[key] = (now, value)
            if len(self.entries) > 1000:  # many distinct filters: forget the oldest
                for k in sorted(self.entries, key=lambda k: self.entries[k][0])[:500]:
                    self.entries.pop(k, None)
        return value


@dataclass
class PanelContext:
    ws: WebStore
    store: Store
    city: City
    web: WebSettings
    scope: Scope
    now: datetime
    rates: health.RateTracker
    cache: PanelCache | None = None

    def panel(self, p: Panel) -> Any:
        if self.cache is None:
            return p.build(self)
        ttl = p.ttl_s if p.ttl_s is not None else self.web.live_interval_s
        return self.cache.get((p.name, self.scope), ttl, lambda: p.build(self))

    @cached_property
    def open_summary(self) -> list[tuple[str, str, str, int, int, int]]:
        """One scan of the open incidents that every count panel shares."""
        minutes = {c.id: c.sla_minutes for c in self.city.categories}
        return self.ws.open_summary(self.scope, minutes, self.web.sla_near_fraction, self.now)

    def count_by(self, field: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.open_summary:
            key = str(row[field])
            out[key] = out.get(key, 0) + row[3]
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: its name in the message, how to build it, how long it may be
    reused (None: one live interval)."""

    name: str
    build: Callable[[PanelContext], Any]
    ttl_s: float | None = None


def _sla(ctx: PanelContext) -> dict[str, dict[str, int]]:
    """Open incidents per category: how many, how many near their deadline, how many past."""
    out: dict[str, dict[str, int]] = {}
    for category, _, _, n, near, past in ctx.open_summary:
        o = out.setdefault(category, {"open": 0, "near": 0, "past": 0})
        o["open"] += n
        o["near"] += near
        o["past"] += past
    return dict(sorted(out.items()))


PANELS: list[Panel] = [
    Panel("by_category", lambda c: c.count_by(0)),
    Panel("by_district", lambda c: c.count_by(1)),
    Panel("by_department", lambda c: c.count_by(2)),
    Panel("sla", _sla),
    Panel("quality", lambda c: c.ws.quality(c.scope), ttl_s=15.0),  # all-time, slow-moving
    Panel("hotspots", lambda c: [hotspot_json(h) for h in c.store.hotspots(open_only=True)]),
    # Shared by every viewer of a scope: no member tickets here (web/hot_issues.py).
    Panel("hot_issues", lambda c: [hot_issue_json(h) for h in c.store.hot_issues(limit=20)]),
    Panel("pipelines", lambda c: health.pipelines(c.store.stats(), c.rates, c.now)),
    Panel(
        "cameras",
        lambda c: health.cameras(c.city, c.store.stats(), c.rates, c.web.camera_stale_s, c.now),
    ),
]


def parse_cursor(raw: str | None) -> datetime | None:
    """A cursor the client sent back; anything unreadable means 'start from a snapshot'."""
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def visible_panels(p: Principal) -> list[Panel]:
    """The panels this user's role may see (web/access.py decides)."""
    return [x for x in PANELS if panel_allowed(p, x.name)]


def message(
    ctx: PanelContext, cursor: datetime | None, panels: list[Panel] | None = None
) -> tuple[dict[str, Any], datetime]:
    """One feed message for `cursor`, and the cursor that follows it."""
    limit = ctx.web.map_max_markers
    reset = cursor is None
    rows, total = ctx.ws.changed_since(ctx.scope, cursor, limit)
    if not reset and total > limit:  # too far behind: a fresh snapshot is smaller
        reset = True
        rows, total = ctx.ws.changed_since(ctx.scope, None, limit)
    # ctx.now was taken before the read, so everything written before now - OVERLAP is in it.
    safe = ctx.now - OVERLAP
    nxt = safe if reset or cursor is None else max(cursor, safe)
    msg = {
        "cursor": nxt.isoformat(),
        "reset": reset,
        "incidents": [r.as_json() for r in rows],
        "hidden": max(0, total - len(rows)) if reset else 0,
        "panels": {p.name: ctx.panel(p) for p in (PANELS if panels is None else panels)},
        "at": ctx.now.isoformat(),
    }
    return msg, nxt


async def event_stream(
    request: Request,
    make_ctx: Callable[[], PanelContext],
    cursor: datetime | None,
    interval_s: float,
    max_events: int | None = None,
    on_open: Callable[[int], None] | None = None,
    ended: Callable[[], str | None] = lambda: None,
    panels: list[Panel] | None = None,
) -> AsyncIterator[str]:
    """Server-sent events until the client goes away (or after max_events, for scripts).

    `ended` is asked before every update: a session signed out, expired or no longer
    accepted ends the stream with a `signed_out` event, not when the client happens to leave.
    """
    sent = 0
    if on_open:
        on_open(1)
    try:
        yield f"retry: {int(interval_s * 1000) + 500}\n\n"
        while not await request.is_disconnected():
            reason = await asyncio.to_thread(ended)
            if reason is not None:
                yield f"event: signed_out\ndata: {json.dumps({'reason': reason})}\n\n"
                return
            msg, cursor = await asyncio.to_thread(message, make_ctx(), cursor, panels)
            data = json.dumps(msg, separators=(",", ":"), default=str)
            yield f"id: {msg['cursor']}\nevent: update\ndata: {data}\n\n"
            sent += 1
            if max_events is not None and sent >= max_events:
                return
            await asyncio.sleep(interval_s)
    finally:
        if on_open:
            on_open(-1)
