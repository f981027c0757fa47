"""The web app over a real SQLite store (in-process ASGI client; the e2e test uses the server)."""

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from citybrain.core.city import City
from citybrain.core.fusion import IncidentState
from citybrain.core.messages import Dispatch, GeoPoint, Observation, RoutingDecision
from citybrain.store import IncidentWrite, Store
from citybrain.web.app import create_app

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _store(tmp_path: Path, summary: str = "Flooding at X [template]") -> Store:
    store = Store.from_url(f"sqlite:///{tmp_path}/w.db")
    routing = RoutingDecision(
        department="water_drainage", decided_by="rule", reason="list: flooding"
    )
    state = IncidentState(
        id="inc-1",
        category="flooding",
        district="xicheng",
        location=GeoPoint(lon=120.128, lat=30.287),
        opened_at=T0,
        updated_at=T0,
        evidence_ids=("o1",),
        ticket_count=1,
        severity="high",
    )
    o = Observation(
        id="o1",
        source="ticket",
        source_id="T-1",
        category="flooding",
        confidence=0.9,
        observed_at=T0,
        district="xicheng",
        text="积水 [PHONE] <script>alert(1)</script>",
    )
    d = Dispatch(
        id="dsp-1",
        incident_id="inc-1",
        department="water_drainage",
        category="flooding",
        district="xicheng",
        severity="high",
        created_at=T0,
        routing=routing,
        summary="Flooding [template]",
    )
    store.write_incidents([IncidentWrite(state, routing, summary, [o])], [d])
    store.write_stats("vision@h:1", {"frames": 7})
    return store


def test_page_and_api(city: City, tmp_path: Path) -> None:
    client = TestClient(create_app(city, _store(tmp_path)))
    page = client.get("/")
    assert page.status_code == 200
    assert "Drainage Office (1)" in page.text and "Flooding at X [template]" in page.text
    incidents = client.get("/api/incidents", params={"status": "open"}).json()
    assert [i["id"] for i in incidents] == ["inc-1"]
    assert incidents[0]["routing"] == {
        "department": "water_drainage",
        "decided_by": "rule",
        "reason": "list: flooding",
    }
    assert incidents[0]["evidence_ids"] == ["o1"]
    detail = client.get("/api/incidents/inc-1").json()
    assert detail["evidence"][0]["text"].startswith("积水 [PHONE]")
    assert client.get("/api/incidents/nope").status_code == 404
    assert (
        client.get("/api/dispatches", params={"department": "water_drainage"}).json()[0]["id"]
        == "dsp-1"
    )
    stats = client.get("/api/stats").json()
    assert stats["open_by_department"] == {"water_drainage": 1}
    assert stats["pipelines"]["vision@h:1"]["frames"] == 7
    assert client.get("/healthz").json() == {"status": "ok"}
    metrics = client.get("/metrics").text
    assert 'citybrain_open_incidents_by_category{category="flooding"} 1.0' in metrics


def test_text_is_escaped_in_the_page(city: City, tmp_path: Path) -> None:
    store = _store(tmp_path, summary="<script>alert(1)</script>")
    page = TestClient(create_app(city, store)).get("/").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
