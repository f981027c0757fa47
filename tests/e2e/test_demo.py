"""The whole demo, bounded, with a fixed seed, checked against the simulator's ground truth."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from citybrain.config import Settings
from citybrain.core.evaluation import IncidentFacts, score_against_truth, score_camera_only
from citybrain.demo import Demo
from citybrain.store import Store

from ..integration.conftest import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("demo")
    s = settings.model_copy(
        update={
            "broker": settings.broker.model_copy(update={"port": free_port()}),
            "web": settings.web.model_copy(update={"port": free_port()}),
            "simulator": settings.simulator.model_copy(update={"seed": 11}),
            "llm": settings.llm.model_copy(update={"embedded_port": free_port()}),
        }
    )
    demo = Demo(s, workdir)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(demo.run(duration_s=420, drain=True)), daemon=True
    )
    runner.start()
    # While it runs, the web server answers with live data.
    base = f"http://{s.web.host}:{s.web.port}"
    live: dict[str, Any] = {}
    deadline = time.monotonic() + 300
    while runner.is_alive() and time.monotonic() < deadline and not live.get("incidents"):
        try:
            login = {"username": "operator", "password": "operator-demo"}  # demo account
            token = httpx.post(f"{base}/api/token", json=login, timeout=5).json()["token"]
            auth = {"authorization": f"Bearer {token}"}
            live["incidents"] = httpx.get(f"{base}/api/incidents", headers=auth, timeout=5).json()
            live["page"] = httpx.get(f"{base}/", headers=auth, timeout=5).text
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(1)
    runner.join(480)
    assert not runner.is_alive(), "demo did not stop"
    truth = json.loads((workdir / "ground_truth.json").read_text())
    return {
        "summary": result,
        "truth": truth,
        "live": live,
        "workdir": workdir,
        "store": Store.from_url(demo.settings.store.url),
        "web": (s.web.host, s.web.port),
    }


def test_every_record_is_processed_or_dead_lettered(demo_run: dict[str, Any]) -> None:
    s = demo_run["summary"]
    assert s["ok"]
    produced, vision, tickets = s["produced"], s["pipelines"]["vision"], s["pipelines"]["tickets"]
    assert produced["frames"] > 0 and produced["tickets"] > 0
    assert vision["frames"] + vision.get("dlq", 0) == produced["frames"]
    assert tickets["tickets"] + tickets.get("dlq", 0) == produced["tickets"]
    # The simulator's deliberately broken records, and only those, were dead-lettered.
    assert vision.get("dlq", 0) == produced["broken_frames"] > 0
    assert tickets.get("dlq", 0) == produced["broken_tickets"] > 0
    assert s["frames_accounted"] and s["tickets_accounted"]
    # every incident's summary is counted once: the model's, the template, or still queued
    assert sum(s["summary"].values()) == s["incidents"]["total"]


def test_each_reported_event_is_exactly_one_incident_with_the_right_department(
    demo_run: dict[str, Any],
) -> None:
    """Scored from the store by the same scorer the demo's summary uses, checked here too."""
    store: Store = demo_run["store"]
    incident_of = {e.source_id: e.incident_id for e in store.evidence() if e.source == "ticket"}
    facts = {
        i.id: IncidentFacts(i.category, i.district, i.department)
        for i in store.incidents(limit=100_000)
    }
    cameras = [
        (e.source_id, e.category, e.observed_at) for e in store.evidence() if e.source == "camera"
    ]
    report = score_against_truth(demo_run["truth"], incident_of, facts, cameras)
    assert report.problems == []
    assert report.exact == report.reported_events > 0
    assert demo_run["summary"]["truth_score"] == report.as_dict()
    # Every ticket the simulator produced reached exactly one incident.
    assert set(incident_of) == {t["ticket_id"] for t in demo_run["truth"]["tickets"]}


def test_camera_only_events_become_incidents_routed_right(demo_run: dict[str, Any]) -> None:
    """Events nobody called in, seen by the demo detector through the camera rules (the sample
    config leaves CLIP scene rules off): recall (each became an incident routed to the
    responsible department) and precision (each ticketless camera incident is a real event)
    against the simulator's truth."""
    store: Store = demo_run["store"]
    evidence = store.evidence()
    report = score_camera_only(
        demo_run["truth"],
        {
            i.id: IncidentFacts(i.category, i.district, i.department)
            for i in store.incidents(limit=100_000)
        },
        [(e.incident_id, e.source_id, e.observed_at) for e in evidence if e.source == "camera"],
        {e.source_id: e.incident_id for e in evidence if e.source == "ticket"},
    )
    assert demo_run["summary"]["camera_only"] == report.as_dict()
    assert report.events > 0
    assert report.recall >= 0.5, report.as_dict()
    assert report.precision >= 0.5, report.as_dict()


def test_no_personal_data_reaches_the_store(demo_run: dict[str, Any]) -> None:
    import re

    store: Store = demo_run["store"]
    texts = [e.text or "" for e in store.evidence() if e.source == "ticket"]
    assert any("[PHONE]" in t or "[ID]" in t for t in texts)
    for t in texts:
        assert not re.search(r"1[3-9]\d{9}|\d{17}[\dXx]", t), t


def test_dispatches_and_live_web(demo_run: dict[str, Any]) -> None:
    s = demo_run["summary"]
    assert sum(s["dispatched"].values()) == s["incidents"]["total"] > 0
    # every incident went through the model step: routed (by rule, the demo's router, model or
    # fallback) with a labelled summary, and every model call is in the audit log
    store: Store = demo_run["store"]
    assert sum(s["decided_by"].values()) >= s["incidents"]["total"]
    assert s["decided_by"].get("router", 0) > 0  # the demo trains one and the jobs use it
    for inc in store.incidents(limit=100_000):
        label = store.summary(inc.id)
        assert label is not None and label.generated_by in ("model", "template"), inc.id
        assert inc.decided_by in ("rule", "router", "model", "fallback") and inc.routing_reason
    assert len(store.model_calls(limit=100_000)) == sum(s["model_calls"].values())
    live = demo_run["live"]
    assert live.get("incidents"), "the web server never answered during the run"
    # the sample city speaks Chinese unless the browser asks otherwise (web.default_language)
    assert 'id="map"' in live["page"] and "最新未结事件" in live["page"]


def test_demo_stops_everything(demo_run: dict[str, Any]) -> None:
    from citybrain.streams.broker import port_open

    host, port = demo_run["web"]
    assert not port_open(host, port)
    codes = demo_run["summary"]["exit_codes"]
    jobs = ("vision", "tickets", "incidents", "dispatch")
    assert {job: codes[job] for job in jobs} == dict.fromkeys(jobs, 0)
    assert codes["web"] in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    for job in jobs:  # each job ran to its final report
        last = (demo_run["workdir"] / f"{job}.log").read_text().strip().splitlines()[-1]
        assert json.loads(last)["job"] == job
