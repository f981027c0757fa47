"""The web app over a real SQLite store (in-process ASGI client): sign-in, roles, pages, API."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from citybrain.core.camera_health import HealthState
from citybrain.core.city import City
from citybrain.store import Store

from .conftest import ClientFor


def test_everything_needs_sign_in(client_for: ClientFor) -> None:
    anon = client_for(None)
    page = anon.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=/")
    for path in ("/api/incidents", "/api/incidents/flood-1", "/api/live", "/api/metrics"):
        r = anon.get(path)
        assert r.status_code == 401 and r.json()["detail"] == "sign in first", path
    bad = anon.post("/login", data={"username": "operator", "password": "nope"})
    assert bad.status_code == 401 and "Wrong username or password" in bad.text
    nobody = anon.post("/login", data={"username": "ghost", "password": "x"})
    assert nobody.status_code == 401
    # Public: health, metrics, the OpenAPI document and Open311.
    assert anon.get("/healthz").json() == {"status": "ok"}
    assert anon.get("/openapi.json").json()["info"]["title"] == "citybrain"
    assert anon.get("/open311/v2/services.json").status_code == 200


def test_dashboard_is_self_contained_and_draws_every_district(
    client_for: ClientFor, city: City
) -> None:
    op = client_for("operator")
    page = op.get("/")
    assert page.status_code == 200
    config = json.loads(
        re.search(r'id="citybrain-config">(.*?)</script>', page.text, re.S).group(1)  # type: ignore[union-attr]
    )
    drawn = [
        f for f in config["map"]["layers"]["features"] if f["properties"]["kind"] == "district"
    ]
    assert [f["properties"]["id"] for f in drawn] == [d.id for d in city.districts]
    assert config["map"]["tiles"] == ""  # the sample city: vector layers only, offline
    # Offline: no asset, font or script from anywhere but this server.
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert op.get("/static/dashboard.js").status_code == 200
    assert op.get("/static/style.css").status_code == 200


def test_incident_page_shows_routing_summary_label_and_audit(client_for: ClientFor) -> None:
    admin = client_for("admin")
    page = admin.get("/incidents/flood-1").text
    assert "template: built by rule from the evidence" in page
    assert "responsibility list: Flooding in * → Drainage Office" in page  # ids by their names
    # the page names the department; the API keeps its id
    assert 'id="audit"' in page and "dispatched to Drainage Office (rule)" in page
    assert "积水很深 [PHONE]" in page  # admins handle tickets, so they read them
    detail = admin.get("/api/incidents/flood-1").json()
    assert detail["summary_label"]["kind"] == "template"
    assert detail["routing"]["decided_by"] == "rule"
    assert [e["kind"] for e in detail["audit"]] == ["evidence", "dispatch"]
    assert detail["audit"][1]["what"] == "dispatched to water_drainage (rule)"
    cam = admin.get("/incidents/flood-2").text
    assert "/incidents/flood-2/evidence/o-flood-2/snapshot.jpg" in cam


def test_operator_sees_all_but_no_ticket_text(client_for: ClientFor) -> None:
    op = client_for("operator")
    ids = {i["id"] for i in op.get("/api/incidents").json()}
    assert ids == {"flood-1", "flood-2", "pothole-1", "bin-1", "old-fire"}
    page = op.get("/incidents/flood-1").text
    assert "积水很深" not in page and "text shown to dispatchers only" in page
    assert op.get("/api/incidents/flood-1").json()["evidence"][0]["text"] is None
    assert "Accept" not in page  # operators read; they do not act
    csrf = csrf_of_dashboard(op)
    r = op.post("/incidents/flood-1/actions", data={"action": "accept", "csrf_token": csrf})
    assert r.status_code == 403


def csrf_of_dashboard(client: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def test_metrics_cover_store_pipelines_and_web(client_for: ClientFor) -> None:
    op = client_for("operator")
    op.get("/api/incidents")
    text = op.get("/metrics").text
    assert 'citybrain_open_incidents_by_category{category="flooding"} 2.0' in text
    assert 'citybrain_pipeline_lag{job="vision"} 3.0' in text
    assert 'citybrain_pipeline_counter{counter="frames",worker="vision@h:1"} 7.0' in text
    assert re.search(
        r'citybrain_web_requests_total\{method="GET",route="/api/incidents",status="200"\} 1\.0',
        text,
    )
    assert "citybrain_web_request_seconds_bucket" in text


def test_metrics_show_camera_health_from_the_gateway(client_for: ClientFor, store: Store) -> None:
    store.write_stats(
        "cameras@gw:9",
        {"camera.cam-03.health": HealthState.COVERED.code, "camera.cam-04.health": 0},
    )
    text = client_for("operator").get("/metrics").text
    assert 'citybrain_camera_health{camera="cam-03",state="covered"} 1.0' in text
    assert 'citybrain_camera_health{camera="cam-04",state="online"} 1.0' in text


def test_panels(client_for: ClientFor) -> None:
    panels = client_for("operator").get("/api/metrics").json()
    assert panels["by_department"]["water_drainage"] == 2
    assert panels["by_district"]["xicheng"] == 1
    assert panels["sla"]["smoke_fire"] == {"open": 1, "near": 0, "past": 1}
    assert panels["sla"]["flooding"]["past"] == 0
    assert panels["quality"]["by_method"]["rule"] == {"routed": 5, "redispatched": 0, "rate": 0.0}
    cam = next(c for c in panels["cameras"] if c["id"] == "cam-01")
    assert cam["frames"] == 7 and cam["errors"] == 1 and cam["status"] == "errors"
    assert next(c for c in panels["cameras"] if c["id"] == "cam-02")["status"] == "never"
    assert panels["pipelines"]["vision"]["lag"] == 3 and panels["pipelines"]["vision"]["dlq"] == 1
    filtered = client_for("operator").get("/api/metrics", params={"category": "flooding"}).json()
    assert filtered["by_category"] == {"flooding": 2}


def test_text_is_escaped_in_pages(client_for: ClientFor, store: Store) -> None:
    with store.sessions.begin() as s:
        from citybrain.store.models import IncidentRow

        row = s.get(IncidentRow, "flood-1")
        assert row is not None
        row.summary = "<script>alert(1)</script>"
    page = client_for("drainage").get("/inbox").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
