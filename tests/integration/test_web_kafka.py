"""The web server against the real broker: dispatcher feedback and moves reach Kafka (and wait
in the outbox while Kafka is unreachable), Open311 requests flow through the real pipelines,
and snapshots are read back from the frames topic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import Dispatch, Feedback, Ticket
from citybrain.runtime import run_job
from citybrain.sim.scenario import build_scenario
from citybrain.sim.stream import render_camera_frame
from citybrain.store import Store
from citybrain.store.web_queries import WebStore
from citybrain.streams.topics import Topics
from citybrain.web.app import create_app
from citybrain.web.bus import KafkaBus

from ..unit.web.conftest import PASSWORDS, csrf_of, incident
from .conftest import free_port, read_topic

pytestmark = pytest.mark.integration


def _demo(s: Settings) -> Settings:
    """These tests sign in with the documented demo accounts: demo mode (web/doors.py)."""
    return s.model_copy(update={"web": s.web.model_copy(update={"demo_mode": True})})


def _client(app: object, username: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    assert (
        c.post("/login", data={"username": username, "password": PASSWORDS[username]}).status_code
        == 303
    )
    return c


def _store(s: Settings, city: City) -> Store:
    store = Store.from_url(s.store.url)
    items = [
        incident(city, "flood-1", "flooding", "xicheng", (120.128, 30.287)),
        incident(city, "flood-2", "flooding", "beicheng", (120.155, 30.272)),
    ]
    store.write_incidents([w for w, _ in items], [d for _, d in items])
    return store


def test_actions_reach_feedback_and_dispatch_topics_even_after_an_outage(
    live_settings: Settings, city: City
) -> None:
    s = _demo(live_settings)
    topics = Topics(s.kafka.topic_prefix)
    store = _store(s, city)
    down = KafkaBus(s.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"}))
    app = create_app(city, store, s, down)
    drainage = _client(app, "drainage")
    csrf = csrf_of(drainage)
    r = drainage.post("/incidents/flood-1/actions", data={"action": "accept", "csrf_token": csrf})
    assert r.status_code == 303  # stored although Kafka is unreachable
    assert [a.emitted for a in WebStore(store).actions()] == [False]

    app.state.ctx.bus = KafkaBus(s.kafka)  # Kafka is back
    r = drainage.post(
        "/incidents/flood-2/actions",
        data={
            "action": "reassign",
            "department": "city_roads",
            "reason": "collapsed road",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    assert all(a.emitted for a in WebStore(store).actions())

    feedback = [
        Feedback.model_validate_json(x.value)
        for x in read_topic(s.kafka.bootstrap_servers, topics.feedback)
    ]
    assert sorted((f.incident_id, f.action, f.department, f.actor) for f in feedback) == [
        ("flood-1", "accept", None, "drainage"),
        ("flood-2", "reassign", "city_roads", "drainage"),
    ]
    assert next(f for f in feedback if f.action == "reassign").reason == "collapsed road"
    moves = [
        Dispatch.model_validate_json(x.value)
        for x in read_topic(s.kafka.bootstrap_servers, topics.dispatch)
    ]
    assert [(d.incident_id, d.department, d.routing.decided_by) for d in moves] == [
        ("flood-2", "city_roads", "dispatcher")
    ]


def _run(job: str, s: Settings) -> dict[str, int]:
    return run_job(job, s, stop=threading.Event(), idle_exit_s=2.0, first_wait_s=20.0)


def test_open311_request_flows_through_the_pipelines_and_reports_status(
    live_settings: Settings, city: City
) -> None:
    s = _demo(live_settings)
    store = Store.from_url(s.store.url)
    app = create_app(city, store, s, KafkaBus(s.kafka))
    c = TestClient(app)
    services = {x["service_code"] for x in c.get("/open311/v2/services.json").json()}
    assert services == {cat.id for cat in city.categories}
    for form, message in (
        ({"service_code": "flooding", "lat": "30.28", "description": "x"}, "long must be a number"),
        (
            {"service_code": "meteor", "lat": "30.28", "long": "120.12", "description": "x"},
            "not a known service",
        ),
        ({"service_code": "flooding", "description": "water"}, "a location is required"),
        (
            {"service_code": "flooding", "lat": "95", "long": "120.1", "description": "x"},
            "lat must be between",
        ),
        ({"service_code": "flooding", "lat": "30.28", "long": "120.12"}, "description is required"),
    ):
        r = c.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 400 and message in r.json()[0]["description"], (form, r.json())
    bad_json = c.post(
        "/open311/v2/requests.json", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    r = c.post(
        "/open311/v2/requests.json",
        data={
            "service_code": "flooding",
            "lat": "30.287",
            "long": "120.128",
            "description": "The underpass is under water",
            "email": "me@example.org",
            "first_name": "Wang",
            "phone": "13812345678",
        },
    )
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    pending = c.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert pending["status"] == "open" and pending["status_notes"] == "received; being processed"

    raw = read_topic(s.kafka.bootstrap_servers, Topics(s.kafka.topic_prefix).tickets)
    ticket = Ticket.model_validate_json(raw[0].value)
    assert ticket.ticket_id == rid and ticket.channel == "open311"
    assert "13812345678" not in raw[0].value.decode() and "Wang" not in raw[0].value.decode()

    assert _run("tickets", s)["tickets"] == 1
    assert _run("incidents", s)["incidents_opened"] == 1
    # Workers report their lag with their counters: both caught up.
    assert {w.split("@")[0]: c["lag"] for w, c in store.stats().items()} == {
        "tickets": 0,
        "incidents": 0,
    }
    routed = c.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert routed["status"] == "open" and routed["agency_responsible"] == "Drainage Office"
    assert routed["service_code"] == "flooding" and routed["lat"] == 30.29  # public: ~1 km

    drainage = _client(app, "drainage")
    iid = drainage.get("/api/incidents").json()[0]["id"]
    r = drainage.post(
        f"/api/incidents/{iid}/actions",
        json={"action": "resolve", "reason": "pumped"},
        headers={"x-csrf-token": csrf_of(drainage)},
    )
    assert r.status_code == 201
    listed = c.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert [x["service_request_id"] for x in listed] == [rid]
    assert c.get("/open311/v2/requests/311-nope.json").status_code == 404
    assert (
        c.get("/open311/v2/requests.json", params={"start_date": "last tuesday"}).status_code == 400
    )


def test_snapshot_is_read_back_from_the_frames_topic(live_settings: Settings, city: City) -> None:
    s = _demo(live_settings)
    topics = Topics(s.kafka.topic_prefix)
    start = datetime.now(UTC) - timedelta(minutes=30)
    frame = render_camera_frame(city, s.simulator, build_scenario(city, s.simulator, start), 0, 0)
    p = KafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers)
    meta = p.send(
        topics.frames, key=b"cam-01", value=frame.jpeg, headers=frame.meta.to_headers()
    ).get(10)
    p.close()
    store = Store.from_url(s.store.url)
    w, d = incident(city, "cam-inc", "flooding", "xicheng", (120.115, 30.272), camera=True)
    ref = f"{topics.frames}/{meta.partition}/{meta.offset}"
    w.evidence[0] = w.evidence[0].model_copy(update={"frame_ref": ref})
    w2, d2 = incident(city, "cam-other", "flooding", "nanhu", (120.115, 30.248), camera=True)
    w2.evidence[0] = w2.evidence[0].model_copy(update={"frame_ref": f"{topics.tickets}/0/0"})
    store.write_incidents([w, w2], [d, d2])
    admin = _client(create_app(city, store, s, None), "admin")
    r = admin.get("/incidents/cam-inc/evidence/o-cam-inc/snapshot.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (s.simulator.height, s.simulator.width)
    # A reference into any other topic is never followed.
    assert admin.get("/incidents/cam-other/evidence/o-cam-other/snapshot.jpg").status_code == 404
