"""GET /api/trends: the dashboard's trend charts as JSON (store/trend_queries.py counts them).

Scoped like every list (a dispatcher sees their own department's), filtered like the live
feed, and shared between screens with the same filters for a few seconds (the panel cache),
so a wall of dashboards polling it costs the database what one does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from citybrain.store.trend_queries import trends
from citybrain.web.context import CurrentUser, WebContext

TTL_S = 15.0


def make_router(ctx: WebContext) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["api"])
    sla = {c.id: c.sla_minutes for c in ctx.city.categories}

    @r.get("/trends")
    def get_trends(
        p: CurrentUser,
        bucket: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
        category: str | None = None,
        district: str | None = None,
    ) -> dict[str, Any]:
        """Incidents opened and resolved per category, SLA breaches per category (by the
        hour or day they opened) and dispatches by how they were decided, for the last 48
        hours (bucket=hour) or 30 days (bucket=day); `starts` are the buckets' start times."""
        scope = ctx.scope(p, category or None, district or None)
        now = datetime.now(UTC)
        return ctx.panel_cache.get(
            (f"trends:{bucket}", scope),
            TTL_S,
            lambda: trends(ctx.store, scope, bucket, sla, now).as_json(),
        )

    return r
