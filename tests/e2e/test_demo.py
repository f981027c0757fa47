"""The whole demo, bounded, with a fixed seed, checked against the simulator's ground truth."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from citybrain.config import Settings
from citybrain.core.evaluation import IncidentFacts, score_against_truth
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
            live["incidents"] = httpx.get(f"{base}/api/incidents", timeout=5).json()
            live["page"] = httpx.get(f"{base}/", timeout=5).text
        except httpx.HTTPError:
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
    live = demo_run["live"]
    assert live.get("incidents"), "the web server never answered during the run"
    assert "open incidents" in live["page"]


def test_demo_stops_everything(demo_run: dict[str, Any]) -> None:
    from citybrain.streams.broker import port_open

    host, port = demo_run["web"]
    assert not port_open(host, port)
    codes = demo_run["summary"]["exit_codes"]
    assert {job: codes[job] for job in ("vision", "tickets", "incidents")} == dict.fromkeys(
        ("vision", "tickets", "incidents"), 0
    )
    assert codes["web"] in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    for job in ("vision", "tickets", "incidents"):  # each job ran to its final report
        last = (demo_run["workdir"] / f"{job}.log").read_text().strip().splitlines()[-1]
        assert json.loads(last)["job"] == job
