"""The trend charts' counts (store/trend_queries.py) on real SQLite and real PostgreSQL: each
backend computes the time buckets itself, so both are checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.trend_queries import trends
from citybrain.store.web_queries import Scope, WebStore

from ..unit.web.conftest import NOW, incident

pytestmark = pytest.mark.integration


def _bucket_of(starts: list[datetime], at: datetime, width: timedelta) -> int:
    found = [i for i, s in enumerate(starts) if s <= at < s + width]
    assert len(found) == 1
    return found[0]


def test_opened_resolved_breaches_and_decisions_per_hour(store: Store, city: City) -> None:
    items = [
        incident(city, "f-1", "flooding", "xicheng", (120.128, 30.287), minutes_ago=125),
        incident(city, "f-2", "flooding", "beicheng", (120.155, 30.272), minutes_ago=30),
        incident(city, "fire", "smoke_fire", "dongcheng", (120.2, 30.28), minutes_ago=190),
        incident(city, "bin", "overflowing_bin", "gaoxin", (120.195, 30.248), minutes_ago=5),
    ]
    store.write_incidents([w for w, _ in items], [d for _, d in items])
    WebStore(store).act(
        "f-2", "resolve", "drain", triage_department=city.triage_department, reason="pumped"
    )
    sla = {c.id: c.sla_minutes for c in city.categories}
    t = trends(store, Scope(), "hour", sla, NOW)
    assert len(t.starts) == 48 and t.starts[-1] <= NOW < t.starts[-1] + timedelta(hours=1)
    hour = timedelta(hours=1)
    opened = t.series["opened"]
    assert {k: sum(v) for k, v in opened.items()} == {
        "flooding": 2,
        "overflowing_bin": 1,
        "smoke_fire": 1,
    }
    fire_at = _bucket_of(t.starts, NOW - timedelta(minutes=190), hour)
    assert opened["smoke_fire"][fire_at] == 1
    # resolved by the dispatcher just now: counted in the current hour
    assert t.series["resolved"] == {"flooding": [0] * 47 + [1]}
    # smoke_fire's SLA is minutes, the fire is 3 hours old and open: a breach in its hour;
    # the bin (5 minutes old) and the quickly resolved flood are not
    breaches = t.series["sla_breaches"]
    assert breaches["smoke_fire"][fire_at] == 1 and "overflowing_bin" not in breaches
    assert sum(t.series["decided_by"]["rule"]) == 4
    # a dispatcher's scope: their department's incidents only
    mine = trends(store, Scope(department="water_drainage"), "hour", sla, NOW)
    assert {k: sum(v) for k, v in mine.series["opened"].items()} == {"flooding": 2}
    assert sum(mine.series["decided_by"]["rule"]) == 2
    days = trends(store, Scope(category="smoke_fire"), "day", sla, NOW)
    assert len(days.starts) == 30 and sum(days.series["opened"]["smoke_fire"]) == 1
