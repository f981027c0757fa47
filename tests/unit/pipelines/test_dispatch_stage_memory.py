"""The dispatch stage over a real SQLite store, under the real worker loop with an in-memory
consumer (streams/testing.py; no broker, no model: `llm.enabled` off): one
dispatch per incident and department, a new one when a resolved incident comes back, and a
memory of open incidents only, so a job that runs for months stays small."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.incident import Incident
from citybrain.core.messages import Dispatch, GeoPoint
from citybrain.core.routing import route
from citybrain.core.summary import template_summary
from citybrain.store import IncidentWrite, Store
from citybrain.streams.testing import Incoming, StageHarness
from citybrain.streams.topics import Topics
from pipelines.dispatch import DispatchStage


def test_resolved_incidents_leave_the_stages_memory(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
            "llm": settings.llm.model_copy(update={"enabled": False}),
        }
    )
    store, topics = Store.from_url(s.store.url), Topics("t")
    t = datetime.now(UTC) - timedelta(hours=1)
    inc = Incident(
        id="inc-1", category="flooding", district="xicheng",
        location=GeoPoint(lon=120.128, lat=30.287), opened_at=t, updated_at=t,
        evidence_ids=("o1",), ticket_count=1, routing=route(city, "flooding", "xicheng"),
    )  # fmt: skip

    def write(state: Incident) -> None:
        summary = template_summary(city, state)
        store.write_incidents([IncidentWrite(replace(state, summary=summary))])

    write(inc)

    def send(state: Incident) -> list[Dispatch]:
        msg = replace(state, summary=template_summary(city, state)).to_message()
        rec = Incoming(topics.incidents, msg, b"inc-1")
        run = worker.run([rec])  # dispatches leave through the outbox, after the write
        return [Dispatch.model_validate_json(o.value) for o in run.outputs]

    stage = DispatchStage(s, city, topics, store, deliver=False)
    worker = StageHarness(stage)
    [first] = send(inc)
    assert first.department == "water_drainage" and "inc-1" in stage._sent
    assert send(replace(inc, ticket_count=2)) == []  # an update: no second dispatch
    done = replace(inc, status="resolved", resolved_at=t, resolved_by="timeout")
    write(done)
    send(done)
    assert "inc-1" not in stage._sent and "inc-1" not in stage._decided
    # a restarted stage loads only incidents still open
    assert DispatchStage(s, city, topics, store, deliver=False)._sent == {}

    # the problem comes back: fusion reopens the incident, and its department is told again
    back = replace(done, status="reopened", resolved_at=None, resolved_by=None, reopened=1)
    write(back)
    [again] = send(back)
    assert again.department == "water_drainage" and again.id != first.id
    assert send(replace(back, ticket_count=3)) == []  # its updates: no third dispatch
    assert {d.id for d in store.dispatches()} == {first.id, again.id}
