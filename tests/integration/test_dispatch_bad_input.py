"""Bad input through the dispatch stage with the model server down: huge, empty and
other-script tickets, an unknown district. Every incident is dispatched, labelled with how,
the batch never waits on the dead server longer than its routing deadline, and every
summary with a report to summarise stays queued for when the server is back."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.incident import Incident
from citybrain.core.messages import Observation
from citybrain.core.routing import route
from citybrain.llm.step import NO_REPORTS_NOTE
from citybrain.store import IncidentWrite, Store
from citybrain.store.summary_queue import SummaryQueue
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from pipelines.dispatch import build_dispatch_stage

pytestmark = pytest.mark.integration
T = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
TEXTS = {
    "huge": "积水 water " * 10_000,  # ~100 KB
    "empty": "",
    "cyrillic": "Во дворе огромная лужа, пройти невозможно",
    "arabic": "يوجد تجمع كبير للمياه في الشارع",
    "emoji": "🚧🚧🚧 ??? 🚧",
}


def dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_every_incident_is_dispatched_by_fallback(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={
            "llm": settings.llm.model_copy(
                update={
                    "embedded": False,
                    "endpoint": dead_endpoint(),
                    "retries": 0,
                    "route_unclassified": True,
                }
            ),
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
        }
    )
    store = Store.from_url(s.store.url)
    records = []
    for i, (name, text) in enumerate(TEXTS.items()):
        inc = Incident(
            id=f"inc-{name}", category=UNCLASSIFIED, district=None, location=None,
            opened_at=T, updated_at=T, ticket_count=1, evidence_ids=(f"o-{name}",),
        )  # fmt: skip
        o = Observation(
            id=f"o-{name}", source="ticket", source_id=f"T-{name}", category=UNCLASSIFIED,
            confidence=0.0, observed_at=T, precision="unlocated", text=text,
        )  # fmt: skip
        inc = replace(inc, routing=route(city, inc.category, inc.district))
        store.write_incidents([IncidentWrite(inc, [o])])
        value = inc.to_message()
        records.append(InRecord("t.incidents", 0, i, inc.id.encode(), value, {}))
    bad = Incident(id="inc-x", category="flooding", district="atlantis", location=None,
                   opened_at=T, updated_at=T, routing=route(city, "flooding", None))  # fmt: skip
    records.append(InRecord("t.incidents", 0, 99, b"inc-x", bad.to_message(), {}))

    stage = build_dispatch_stage(s, city, Topics("t"), store)
    try:
        batch = stage.process(records)
        stage.sink()
    finally:
        stage.close()
    assert [err.reason for _, err in batch.rejected] == ["unknown_district"]
    # dispatch messages leave through the outbox, written with the dispatches
    dispatched = {p.output.key for p in stage.outbox.take() if p.output.topic == "t.dispatch"}
    assert dispatched == {city.triage_department.encode()}
    assert len(store.dispatches()) == len(TEXTS)
    for d in store.dispatches():
        assert d.decided_by == "fallback" and "model answer unusable" in d.reason
        summary = store.summary(d.incident_id)
        assert summary is not None and summary.generated_by == "template"
        if d.incident_id == "inc-empty":  # no report to summarise: the facts stand, not queued
            assert summary.note == NO_REPORTS_NOTE
            continue
        # queued for the model, which is down: pending (and retrying), never dropped
        assert summary.note.startswith("summary pending")
    outcomes = {c.outcome for c in store.model_calls()}
    assert outcomes <= {"error", "timeout"} and outcomes
    assert stage.stats["decided_by.fallback"] == len(TEXTS)
    assert SummaryQueue(store).counts()["pending"] == len(TEXTS) - 1
