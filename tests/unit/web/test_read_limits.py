"""Reads that cost the server are throttled: Open311 reads per client (or key), look-alike
frame searches per user over a bounded pool with the holders read in one query (not one per
match), and live feeds per user."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import event

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from .conftest import PASSWORDS, incident


def _app(city: City, store: Store, settings: Settings, **web: Any) -> TestClient:
    s = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(city, store, s), follow_redirects=False)


def _signed_in(c: TestClient, user: str) -> TestClient:
    r = c.post("/api/token", json={"username": user, "password": PASSWORDS[user]})
    c.headers["authorization"] = f"Bearer {r.json()['token']}"
    return c


def test_open311_reads_are_limited_per_client_and_per_key(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(
        city, store, app_settings, open311_read_rate_per_client="2/minute", open311_api_keys=("k",)
    )
    url = "/open311/v2/requests.json"
    assert [c.get(url).status_code for _ in range(2)] == [200, 200]
    r = c.get("/open311/v2/requests/311-x.json")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert c.get(url, params={"api_key": "k"}).status_code == 200  # the key's own budget


def test_look_alike_searches_are_limited_and_read_their_holders_at_once(
    city: City, store: Store, app_settings: Settings
) -> None:
    first = ""
    for i in range(30):
        w, d = incident(city, f"cam-{i}", "flooding", "xicheng", (120.128, 30.287), camera=True)
        v = np.asarray([1.0, i / 30, 0.0], np.float32)
        emb = tuple(float(x) for x in v / np.linalg.norm(v))
        obs = w.evidence[0].model_copy(update={"id": f"o-cam-{i}", "embedding": emb})
        store.write_incidents([replace(w, evidence=[obs])], [d])
        first = first or obs.id
    c = _signed_in(_app(city, store, app_settings, similar_rate_per_user="2/minute"), "drainage")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = c.get(f"/api/evidence/{first}/similar", params={"k": 20}).json()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(found) == 20
    assert len(statements) < 12, statements  # was one incident query per match
    assert c.get(f"/api/evidence/{first}/similar").status_code == 200
    r = c.get(f"/api/evidence/{first}/similar")
    assert r.status_code == 429 and "retry-after" in r.headers


def test_live_feeds_per_user_are_limited(city: City, store: Store, app_settings: Settings) -> None:
    c = _signed_in(_app(city, store, app_settings, live_streams_per_user=1), "operator")
    ctx = c.app.state.ctx  # type: ignore[attr-defined]
    assert ctx.streams.take("operator")  # a feed of this user is open elsewhere
    r = c.get("/api/live", params={"max_events": 1})
    assert r.status_code == 429 and "live feeds" in r.json()["detail"]
    ctx.streams.give_back("operator")
    with c.stream("GET", "/api/live", params={"max_events": 1}) as feed:
        assert feed.status_code == 200 and "event: update" in feed.read().decode()
    assert ctx.streams.take("operator")  # the finished feed gave its slot back
