"""Bad input through the dispatch stage with the model server down: huge, empty and
other-script tickets, an unknown district. Every incident is dispatched, labelled with how,
and the batch never waits on the dead server longer than its budget."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.facts import incident_message
from citybrain.core.fusion import IncidentState
from citybrain.core.messages import Observation
from citybrain.core.routing import route
from citybrain.store import IncidentWrite, Store
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
        inc = IncidentState(
            id=f"inc-{name}", category=UNCLASSIFIED, district=None, location=None,
            opened_at=T, updated_at=T, ticket_count=1, evidence_ids=(f"o-{name}",),
        )  # fmt: skip
        o = Observation(
            id=f"o-{name}", source="ticket", source_id=f"T-{name}", category=UNCLASSIFIED,
            confidence=0.0, observed_at=T, precision="unlocated", text=text,
        )  # fmt: skip
        rule = route(city, inc.category, inc.district)
        store.write_incidents([IncidentWrite(inc, rule, "", [o])])
        value = incident_message(inc, rule, "").model_dump_json().encode()
        records.append(InRecord("t.incidents", 0, i, inc.id.encode(), value, {}))
    bad = incident_message(
        IncidentState(id="inc-x", category="flooding", district="atlantis", location=None,
                      opened_at=T, updated_at=T), route(city, "flooding", None), "",
    )  # fmt: skip
    records.append(InRecord("t.incidents", 0, 99, b"inc-x", bad.model_dump_json().encode(), {}))

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
        assert summary.note.startswith("model summary not used")
    outcomes = {c.outcome for c in store.model_calls()}
    assert outcomes <= {"error", "timeout"} and outcomes
    assert stage.stats["decided_by.fallback"] == len(TEXTS)


def test_summaries_the_model_missed_are_caught_up_when_the_stream_is_quiet(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    from .fake_servers import endpoint, misbehaving_llm

    answer = {"route": {}, "summary": {"summary": "Flooding at Heping Road; 1 citizen report."}}
    with misbehaving_llm("answer", answer, delay_s=0.5) as srv:
        s = settings.model_copy(
            update={
                "llm": settings.llm.model_copy(
                    update={
                        "embedded": False,
                        "endpoint": endpoint(srv),
                        "batch_budget_s": 0.2,  # too short for the slow server: template first
                        "catch_up_every_s": 0.01,
                    }
                ),
                "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
            }
        )
        store = Store.from_url(s.store.url)
        inc = IncidentState(
            id="inc-f", category="flooding", district="xicheng", location=None,
            opened_at=T, updated_at=T, ticket_count=1, evidence_ids=("o-f",),
        )  # fmt: skip
        o = Observation(
            id="o-f", source="ticket", source_id="T-f", category="flooding",
            confidence=0.9, observed_at=T, precision="district", text="Heping Road flooded",
        )  # fmt: skip
        rule = route(city, "flooding", "xicheng")
        store.write_incidents([IncidentWrite(inc, rule, "", [o])])
        value = incident_message(inc, rule, "").model_dump_json().encode()
        stage = build_dispatch_stage(s, city, Topics("t"), store)
        try:
            stage.process([InRecord("t.incidents", 0, 0, b"inc-f", value, {})])
            stage.sink()
            first = store.summary("inc-f")
            assert first is not None and first.generated_by == "template"
            assert "timeout" in first.note
            stage.settings = s.model_copy(
                update={"llm": s.llm.model_copy(update={"batch_budget_s": 10.0})}
            )
            stage.step.settings = stage.settings.llm
            batch = stage.tick()  # nothing arrived: the model catches up
            stage.sink()
        finally:
            stage.close()
    assert not [o for o in batch.outputs if o.topic == "t.dispatch"]  # no second dispatch
    caught_up = store.summary("inc-f")
    assert caught_up is not None and caught_up.generated_by == "model"
    assert caught_up.text.startswith("Flooding at Heping Road")
    assert store.incident("inc-f")[0].summary == caught_up.text  # type: ignore[index]
    assert [d.department for d in store.dispatches()] == ["water_drainage"]
    assert [c.outcome for c in store.model_calls()] == ["ok", "timeout"]
