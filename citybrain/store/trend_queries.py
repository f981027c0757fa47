"""Incidents over time for the dashboard's trend charts, counted per time bucket in SQL.

Buckets are whole hours or days of epoch seconds (UTC), computed by the database (SQLite's
strftime, PostgreSQL's extract): a month of a city's incidents is a few hundred grouped rows,
never the incidents themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from citybrain.store.models import DispatchRow, IncidentRow
from citybrain.store.repository import Store
from citybrain.store.web_models import AssignmentRow
from citybrain.store.web_views import Scope, scoped

BUCKETS = {"hour": (3600, 48), "day": (86400, 30)}  # width in seconds, how many back


@dataclass
class Trends:
    """Counts per bucket: `series[name][key]` lines up with `starts` (bucket start times)."""

    bucket: str
    starts: list[datetime]
    series: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "starts": [t.isoformat() for t in self.starts],
            **self.series,
        }


def _epoch(col: Any, dialect: str) -> ColumnElement[int]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", col), Integer)  # whole seconds
    return cast(func.floor(func.extract("epoch", col)), Integer)  # PostgreSQL casts round


def trends(
    store: Store, scope: Scope, bucket: str, sla_minutes: dict[str, int], now: datetime
) -> Trends:
    """Opened and resolved per category, SLA breaches per category (by the bucket the
    incident opened in: opened then, and not resolved within its category's SLA), and how
    each dispatch was decided (rule, router, model, fallback, dispatcher), over the last
    48 hours or 30 days."""
    width, n = BUCKETS[bucket]
    end = int(now.timestamp()) // width * width + width
    start = end - n * width
    since = datetime.fromtimestamp(start, UTC)
    out = Trends(bucket, [since + timedelta(seconds=i * width) for i in range(n)])
    resolved_at = func.coalesce(
        IncidentRow.resolved_at,
        case((AssignmentRow.state == "resolved", AssignmentRow.updated_at), else_=None),
    )
    unscoped_time = Scope(scope.department, scope.category, scope.district)  # no `since`
    with store.sessions() as s:
        dialect = s.get_bind().dialect.name
        now_s = literal(int(now.timestamp()))

        def grouped(name: str, when: Any, key: Any, q: Any, extra: Any = None) -> None:
            b = (_epoch(when, dialect) - start) // width  # floor: `/` is true division
            q = q.add_columns(cast(b, Integer).label("b"), key, func.count())
            q = q.where(when >= since, when < datetime.fromtimestamp(end, UTC))
            if extra is not None:
                q = q.where(extra)
            series = out.series.setdefault(name, {})
            for i, k, c in s.execute(q.group_by("b", key)).all():
                if 0 <= int(i) < n:
                    series.setdefault(str(k), [0] * n)[int(i)] += int(c)

        base = scoped(select().select_from(IncidentRow), unscoped_time, open_only=False)
        grouped("opened", IncidentRow.opened_at, IncidentRow.category, base)
        grouped("resolved", resolved_at, IncidentRow.category, base)
        sla_s = case(
            {c: m * 60 for c, m in sla_minutes.items()} or {"": 0}, value=IncidentRow.category
        )
        took = func.coalesce(_epoch(resolved_at, dialect), now_s) - _epoch(
            IncidentRow.opened_at, dialect
        )
        grouped(
            "sla_breaches",
            IncidentRow.opened_at,
            IncidentRow.category,
            base,
            and_(IncidentRow.category.in_(list(sla_minutes)), took > sla_s),
        )
        d = select()
        if scope.department:
            d = d.where(DispatchRow.department == scope.department)
        if scope.category:
            d = d.where(DispatchRow.category == scope.category)
        if scope.district:
            d = d.where(
                DispatchRow.district.is_(None)
                if scope.district == "unlocated"
                else DispatchRow.district == scope.district
            )
        grouped(
            "decided_by", DispatchRow.created_at, DispatchRow.decided_by, d.select_from(DispatchRow)
        )
    for name in ("opened", "resolved", "sla_breaches", "decided_by"):
        out.series[name] = dict(sorted(out.series.get(name, {}).items()))
    return out
