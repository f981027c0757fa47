"""/api/hotspots and the store's hot-spot and digest methods, over a real SQLite store."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.hotspots import HotspotAlert
from citybrain.core.incident import Incident
from citybrain.core.messages import GeoPoint, Observation, RoutingDecision
from citybrain.store import IncidentWrite, Store
from citybrain.web.app import create_app
from tests.unit.web.conftest import PASSWORDS

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
ROUTING = RoutingDecision(department="water_drainage", decided_by="rule", reason="list")


def alert(aid: str, status: str = "open", minutes: int = 0) -> HotspotAlert:
    return HotspotAlert(
        id=aid,
        category="noise",
        district="xicheng",
        cell="87309a",
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
        count=6,
        baseline=0.5,
        status=status,
        detail="6 tickets in 60 min; baseline expects 0.5",
    )


def incident(iid: str, category: str, district: str, evidence: list[Observation]) -> IncidentWrite:
    st = Incident(
        id=iid,
        category=category,
        district=district,
        location=GeoPoint(lon=120.128, lat=30.287),
        opened_at=T0,
        updated_at=T0,
        evidence_ids=tuple(o.id for o in evidence),
        ticket_count=len(evidence),
        cell="84309a",
        status="resolved",
        resolved_at=T0,
        resolved_by="dispatcher",
        camera_events=("flooding@cam-01/roadway",),
    )
    return IncidentWrite(replace(st, routing=ROUTING, summary="s"), evidence)


def ticket(oid: str) -> Observation:
    return Observation(
        id=oid,
        source="ticket",
        source_id=f"T-{oid}",
        category="noise",
        confidence=0.9,
        observed_at=T0,
        location=GeoPoint(lon=120.128, lat=30.287),
        district="xicheng",
    )


def test_hotspots_are_upserted_listed_and_served(
    city: City, tmp_path: Path, app_settings: Settings
) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/h.db")
    store.write_hotspots([alert("hot-1"), alert("hot-2", minutes=5)])
    store.write_hotspots([alert("hot-1", status="closed", minutes=9)])  # same id: updated
    assert [h.id for h in store.hotspots()] == ["hot-2"]
    assert [h.id for h in store.hotspots(open_only=False)] == ["hot-1", "hot-2"]
    assert [a.id for a in store.open_hotspot_alerts()] == ["hot-2"]
    client = TestClient(create_app(city, store, app_settings))
    assert client.get("/api/hotspots").status_code == 401
    client.post("/login", data={"username": "operator", "password": PASSWORDS["operator"]})
    body = client.get("/api/hotspots?open_only=false").json()
    assert [(h["id"], h["status"], h["count"]) for h in body] == [
        ("hot-1", "closed", 6),
        ("hot-2", "open", 6),
    ]
    assert body[1]["opened_at"].startswith("2026-05-01T08:00:00")


def test_digest_and_lifecycle_columns_round_trip(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/d.db")
    store.write_incidents(
        [
            incident("i1", "noise", "xicheng", [ticket("a")]),
            incident("i2", "noise", "xicheng", [ticket("b")]),
            incident("i3", "pothole", "xicheng", [ticket("c")]),
            incident("i4", "noise", "beicheng", []),
        ]
    )
    assert store.digest(since=T0 - timedelta(days=1), top=1) == {
        "beicheng": [("noise", 1)],
        "xicheng": [("noise", 2)],
    }
    assert store.digest(now=T0 + timedelta(days=30)) == {}  # older than the default week
    st = store.load_incident("i1")
    assert st is not None and st.cell == "84309a" and st.resolved_by == "dispatcher"
    assert st.camera_events == ("flooding@cam-01/roadway",)
    assert store.open_incidents() == []
    assert {s.id for s in store.open_incidents(resolved_since=T0)} == {"i1", "i2", "i3", "i4"}
    rows = store.ticket_evidence_since(T0)
    assert sorted((e.observation_id, d) for e, d in rows) == [
        ("a", "xicheng"),
        ("b", "xicheng"),
        ("c", "xicheng"),
    ]
