"""Liveness does not depend on the database (a database outage must not restart-loop the web);
readiness does. Workers that stopped writing their counters leave the lag sum and, after
`store.stats_keep_s`, the table. Real SQLite; the outage is another connection holding an
exclusive lock, with the app's store set to wait at most 0.2 s for it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.models import PipelineStatsRow
from citybrain.web import health
from citybrain.web.app import create_app


def test_liveness_answers_through_a_database_outage_readiness_does_not(
    city: City, app_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    Store.from_url(f"sqlite:///{db}").engine.dispose()  # the tables; no connection left open
    store = Store(create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.2}))
    c = TestClient(create_app(city, store, app_settings), raise_server_exceptions=False)
    assert c.get("/readyz").status_code == 200
    store.engine.dispose()  # the pool's idle connection would keep the lock below from forming
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("PRAGMA locking_mode=EXCLUSIVE")
    lock.execute("BEGIN EXCLUSIVE")
    lock.execute("DELETE FROM pipeline_stats")  # a write: now readers are locked out too
    try:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 503
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_dead_workers_leave_the_lag_and_then_the_table(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    now = datetime.now(UTC)
    with store.sessions.begin() as s:  # a worker that restarted two days ago, and one an hour ago
        s.add(PipelineStatsRow(job="incidents@h:1", updated_at=now - timedelta(days=2),
                               counters={"lag": 500, "consumed": 10}))  # fmt: skip
        s.add(PipelineStatsRow(job="incidents@h:2", updated_at=now - timedelta(hours=1),
                               counters={"lag": 900, "consumed": 20}))  # fmt: skip
    store.write_stats("incidents@h:3", {"lag": 3, "consumed": 5}, keep_s=86_400)
    assert set(store.stats()) == {"incidents@h:2", "incidents@h:3"}  # the 2-day-old one went
    jobs = health.pipelines(store.stats(), health.RateTracker(), now)
    assert jobs["incidents"]["lag"] == 3  # only live workers are behind
    assert jobs["incidents"]["consumed"] == 25  # what the job did, dead workers included
