"""The live feed re-checks its session before every update: signing out or expiry ends it."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from .conftest import PASSWORDS


def _events(c: TestClient, headers: dict[str, str], max_events: int) -> list[tuple[str, str]]:
    with c.stream("GET", "/api/live", params={"max_events": max_events}, headers=headers) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    kinds = [x[7:] for x in lines if x.startswith("event: ")]
    data = [x[6:] for x in lines if x.startswith("data: ")]
    return list(zip(kinds, data, strict=True))


def _app(city: City, store: Store, settings: Settings, **web: Any) -> TestClient:
    s = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(city, store, s))


def _bearer(c: TestClient) -> dict[str, str]:
    r = c.post("/api/token", json={"username": "operator", "password": PASSWORDS["operator"]})
    return {"authorization": f"Bearer {r.json()['token']}"}


def test_a_token_revoked_mid_stream_ends_the_feed(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings, live_interval_s=0.3)
    bearer = _bearer(c)
    revoke = threading.Timer(
        1.0, lambda: c.post("/api/token/revoke", headers=bearer).raise_for_status()
    )
    revoke.start()
    try:
        events = _events(c, bearer, max_events=100)  # ~30 s of updates if nobody stopped it
    finally:
        revoke.cancel()
    assert events[0][0] == "update"
    assert events[-1][0] == "signed_out" and "signed out" in events[-1][1]
    assert all(kind == "update" for kind, _ in events[:-1])
    assert len(events) < 100


def test_an_expired_session_ends_the_feed(city: City, store: Store, app_settings: Settings) -> None:
    c = _app(city, store, app_settings, live_interval_s=2.2, session_max_age_s=1)
    events = _events(c, _bearer(c), max_events=5)
    assert [kind for kind, _ in events] == ["update", "signed_out"]
    assert "expired" in events[-1][1]
