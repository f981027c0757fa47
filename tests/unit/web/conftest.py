"""A real SQLite store with incidents in several departments, and the app over it."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.config.web import WebUser
from citybrain.core.city import City
from citybrain.core.incident import Incident
from citybrain.core.messages import Detection, Dispatch, GeoPoint, Observation
from citybrain.core.routing import route
from citybrain.core.summary import template_summary
from citybrain.store import IncidentWrite, Store
from citybrain.web.app import create_app
from citybrain.web.auth import hash_password

NOW = datetime.now(UTC).replace(microsecond=0)
# Demo accounts from config/citybrain.yaml; the plain passwords are in docs/OPERATIONS.md.
PASSWORDS = {
    u: f"{u}-demo" for u in ("operator", "admin", "drainage", "roads", "sanitation", "triage")
}


def incident(
    city: City,
    iid: str,
    category: str,
    district: str | None,
    at: tuple[float, float] | None,
    *,
    minutes_ago: int = 10,
    text: str = "积水很深 [PHONE]",
    camera: bool = False,
) -> tuple[IncidentWrite, Dispatch]:
    t = NOW - timedelta(minutes=minutes_ago)
    obs = Observation(
        id=f"o-{iid}",
        source="camera" if camera else "ticket",
        source_id="cam-01" if camera else f"T-{iid}",
        category=category,
        confidence=0.9,
        observed_at=t,
        location=GeoPoint(lon=at[0], lat=at[1]) if at else None,
        district=district,
        text=None if camera else text,
        detections=(
            Detection(cls="flood_water", confidence=0.8, box=(0.3, 0.6, 0.7, 0.9), zone="roadway"),
        )
        if camera
        else (),
        frame_ref=f"city.frames/0/{abs(hash(iid)) % 1000}" if camera else None,
    )
    state = Incident(
        id=iid,
        category=category,
        district=district,
        location=obs.location,
        opened_at=t,
        updated_at=t,
        evidence_ids=(obs.id,),
        ticket_count=0 if camera else 1,
        camera_count=1 if camera else 0,
        severity=city.category_by_id[category].severity,
    )
    routing = route(city, category, district)
    summary = template_summary(city, state)
    d = Dispatch(
        id=f"dsp-{iid}",
        incident_id=iid,
        department=routing.department,
        category=category,
        district=district,
        severity=state.severity,
        created_at=t,
        routing=routing,
        summary=summary,
    )
    return IncidentWrite(replace(state, routing=routing, summary=summary), [obs]), d


@pytest.fixture
def store(city: City, tmp_path: Path) -> Store:
    """flood-1 and flood-2 → water_drainage, pothole-1 → city_roads, bin-1 → sanitation_east,
    old-fire → fire_rescue (opened 20 minutes ago: past its 15-minute SLA)."""
    s = Store.from_url(f"sqlite:///{tmp_path}/web.db")
    items = [
        incident(city, "flood-1", "flooding", "xicheng", (120.128, 30.287)),
        incident(city, "flood-2", "flooding", "beicheng", (120.155, 30.272), camera=True),
        incident(city, "pothole-1", "pothole", "nanhu", (120.115, 30.248), text="路面有大坑"),
        incident(city, "bin-1", "overflowing_bin", "gaoxin", (120.195, 30.248)),
        incident(city, "old-fire", "smoke_fire", "dongcheng", (120.2, 30.28), minutes_ago=20),
    ]
    s.write_incidents([w for w, _ in items], [d for _, d in items])
    s.write_stats(
        "vision@h:1",
        {
            "frames": 7,
            "consumed": 8,
            "dlq": 1,
            "lag": 3,
            "camera.cam-01.frames": 7,
            "camera.cam-01.errors": 1,
            "camera.cam-01.last_ms": 1_700_000_000_000,
            "camera.cam-01.seen_ms": int(time.time() * 1000),
        },
    )
    return s


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """The sample config in demo mode: the tests sign in with its documented demo accounts
    (a server without demo mode refuses to start with them, test_demo_mode.py)."""
    return settings.model_copy(
        update={
            "web": settings.web.model_copy(
                update={"session_secret": "test-secret", "demo_mode": True}
            )
        }
    )


# A served (not demo) configuration: accounts with their own passwords, a random-length key.
SERVED_PASSWORDS = {"ops": "ops-own-long-password", "drain": "drain-own-long-password"}
SERVED_SECRET = "5f0c2b8e9d1a4736b2c8e0f19a7d3c45e6b1f08a29c7d4e3b5a6f7081c2d3e4f"


@functools.cache
def _served_users() -> tuple[WebUser, ...]:
    return (
        WebUser(
            username="ops", role="operator", password_hash=hash_password("ops-own-long-password")
        ),
        WebUser(
            username="drain",
            role="dispatcher",
            department="water_drainage",
            password_hash=hash_password("drain-own-long-password"),
        ),
    )


@pytest.fixture
def served_settings(settings: Settings) -> Settings:
    """The sample config as a real deployment would set it: no demo mode, no demo account."""
    web = settings.web.model_copy(
        update={"demo_mode": False, "session_secret": SERVED_SECRET, "users": _served_users()}
    )
    return settings.model_copy(update={"web": web})


ClientFor = Callable[[str | None], TestClient]


@pytest.fixture
def client_for(city: City, store: Store, app_settings: Settings) -> ClientFor:
    """A signed-in client per username (None = anonymous), all over the same app and store."""
    app = create_app(city, store, app_settings)

    def make(username: str | None) -> TestClient:
        # The sample city speaks Chinese by default; these clients ask for English, as the
        # tests read the English pages (test_i18n.py reads the Chinese ones).
        c = TestClient(app, follow_redirects=False, headers={"accept-language": "en"})
        if username:
            r = c.post("/login", data={"username": username, "password": PASSWORDS[username]})
            assert r.status_code == 303, r.text
        return c

    return make


def csrf_of(client: TestClient, path: str = "/inbox") -> str:
    page = client.get(path)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, page.text[:500]
    return m.group(1)
