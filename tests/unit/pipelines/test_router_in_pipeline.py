"""The trained router in the jobs: the ticket stage attaches its advice, the store keeps it
with the evidence, and the dispatch stage decides in the order list > router > model > triage."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.fusion import Fuser
from citybrain.core.history import Columns
from citybrain.core.messages import Dispatch, Observation, Ticket
from citybrain.core.routing import route
from citybrain.store import IncidentWrite, Store
from citybrain.streams.testing import Incoming, run_stage
from citybrain.streams.topics import Topics
from citybrain.text.errors import ArtefactError
from citybrain.text.router_train import TrainResult, train
from pipelines.dispatch import DispatchStage
from pipelines.tickets import TicketStage

TEXTS = {
    "t-rule": "新华路积水严重，车辆无法通行，电话13812345678",  # keywords + place: the list decides
    "t-router": "The street lights near Heping Road are all dark at night",  # no keyword
    "t-triage": "My neighbour asked about the opening hours of the library",
}


def _settings(settings: Settings, router: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "tickets": settings.tickets.model_copy(update={"router": router}),
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
            "llm": settings.llm.model_copy(update={"enabled": False}),
        }
    )


def test_tickets_to_dispatch_with_the_router(
    settings: Settings, city: City, trained: tuple[Path, TrainResult], tmp_path: Path
) -> None:
    s = _settings(settings, trained[0], tmp_path)
    topics, store = Topics("t"), Store.from_url(s.store.url)
    tickets = TicketStage(s, city, topics)
    at = datetime.now(UTC) - timedelta(minutes=5)
    records = [
        Incoming(topics.tickets,
                 Ticket(ticket_id=tid, received_at=at, text=text).model_dump_json().encode(),
                 tid.encode())
        for tid, text in TEXTS.items()
    ]  # fmt: skip
    batch = run_stage(tickets, records)
    assert not batch.dead_letters and len(batch.outputs) == 3
    fuser = Fuser(city, s.incidents)
    writes = []
    for out in batch.outputs:
        obs = Observation.model_validate_json(out.value)
        assert obs.advice is not None and len(obs.advice.top) == 3
        assert "13812345678" not in obs.advice.model_dump_json()
        inc = fuser.apply(obs).incident
        assert inc is not None
        inc = replace(inc, routing=route(city, inc.category, inc.district))
        writes.append(IncidentWrite(inc, [obs]))
    store.write_incidents(writes)
    stage = DispatchStage(s, city, topics, store, deliver=False)
    recs = [
        Incoming(topics.incidents, w.incident.to_message(), w.incident.id.encode())
        for w in writes
    ]  # fmt: skip
    by_ticket = {}
    for out in run_stage(stage, recs).outputs:  # dispatches leave through the outbox
        d = Dispatch.model_validate_json(out.value)
        row, evidence = store.incident(d.incident_id) or (None, [])
        by_ticket[evidence[0].source_id] = d
        assert row is not None and row.routing_advice is not None  # shown in inbox and API
    rule, router, triage = by_ticket["t-rule"], by_ticket["t-router"], by_ticket["t-triage"]
    assert (rule.routing.decided_by, rule.department) == ("rule", "water_drainage")
    assert (router.routing.decided_by, router.department) == ("router", "street_lighting")
    # The dispatch message (and so every webhook) carries the router's labels, not the
    # similar past tickets: other citizens' words, most of them other departments'.
    assert router.routing.advice is not None and router.routing.advice.top
    assert router.routing.advice.similar == ()
    found = store.incident(router.incident_id)
    assert found is not None and found[0].routing_advice is not None
    assert len(found[0].routing_advice["similar"]) == 3  # kept home, shown by role (web/api.py)
    assert triage.department == city.triage_department


def test_a_router_with_labels_the_city_lacks_stops_the_job_at_start(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    src = tmp_path / "h.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "dept"])
        w.writerows([[f"pothole {i}", "Roads"] for i in range(10)])
        w.writerows([[f"dark lamp {i}", "Lights"] for i in range(10)])
    train(src, Columns("text", "dept"), tmp_path / "r", city, folds=2)
    with pytest.raises(ArtefactError, match="not this city's departments"):
        TicketStage(_settings(settings, tmp_path / "r", tmp_path), city, Topics("t"))


def test_run_tickets_refuses_a_missing_router_before_touching_kafka(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"tickets: {{router: {tmp_path / 'nowhere'}}}\n"
        f"store: {{url: 'sqlite:///{tmp_path}/s.db'}}\n"
        "kafka: {bootstrap_servers: '127.0.0.1:1'}\n"
    )
    res = CliRunner().invoke(app, ["run", "tickets", "--config", str(cfg)])
    assert res.exit_code == 2 and "no router artefact here" in res.output
