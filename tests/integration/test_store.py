"""The store on real SQLite and real PostgreSQL: idempotent writes and restart-safe state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.core.incident import Incident
from citybrain.core.messages import (
    Dispatch,
    GeneratedLabel,
    GeoPoint,
    KeyFacts,
    Observation,
    RoutingDecision,
)
from citybrain.store import IncidentWrite, Store, model_step

pytestmark = pytest.mark.integration
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
RULE = RoutingDecision(department="water_drainage", decided_by="rule", reason="list")


def _obs(oid: str, minutes: int = 0) -> Observation:
    return Observation(
        id=oid,
        source="ticket",
        source_id=f"T-{oid}",
        category="flooding",
        confidence=0.9,
        observed_at=T0 + timedelta(minutes=minutes),
        location=GeoPoint(lon=120.128, lat=30.287),
        district="xicheng",
        text="积水 at [PHONE]",
    )


def _state(evidence: tuple[str, ...], status: str = "open") -> Incident:
    return Incident(
        id="inc-1",
        category="flooding",
        district="xicheng",
        location=GeoPoint(lon=120.128, lat=30.287),
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=len(evidence)),
        status=status,
        evidence_ids=evidence,
        ticket_count=len(evidence),
        severity="high",
        routing=RULE,
        summary="s",
    )


def _write(
    inc: Incident, summary: str = "s", evidence: list[Observation] | None = None
) -> IncidentWrite:
    return IncidentWrite(replace(inc, summary=summary), evidence or [])


def _dispatch() -> Dispatch:
    return Dispatch(
        id="dsp-1",
        incident_id="inc-1",
        department="water_drainage",
        category="flooding",
        district="xicheng",
        severity="high",
        created_at=T0,
        routing=RULE,
        summary="Flooding [template]",
    )


def test_writes_are_idempotent(store: Store) -> None:
    first = _write(_state(("a",)), "s1", [_obs("a")])
    for _ in range(3):  # a replayed batch writes the same rows again
        store.write_incidents([first], [_dispatch()])
    second = _write(_state(("a", "b"), "updated"), "s2", [_obs("b", 1)])
    store.write_incidents([second], [_dispatch()])
    assert len(store.incidents()) == 1
    assert len(store.dispatches()) == 1
    row, evidence = store.incident("inc-1")  # type: ignore[misc]
    # the summary is the dispatch job's once the row exists (store/mappers.INCIDENT_WRITERS)
    assert (row.status, row.summary, row.ticket_count) == ("updated", "s1", 2)
    assert [e.observation_id for e in evidence] == ["a", "b"]


def test_open_incidents_round_trip_to_the_same_state(store: Store) -> None:
    state = _state(("a", "b"), "updated")
    store.write_incidents([_write(state, "s", [_obs("a"), _obs("b", 1)])])
    [back] = store.open_incidents()
    assert back == state  # including timezone-aware datetimes
    resolved = _write(replace(state, status="resolved", resolved_at=T0))
    store.write_incidents([resolved])
    assert store.open_incidents() == []


def test_counts_and_stats(store: Store) -> None:
    store.write_incidents([_write(_state(("a",)), "s", [_obs("a")])])
    assert store.counts_by("department") == {"water_drainage": 1}
    store.write_stats("vision@h:1", {"frames": 3})
    store.write_stats("vision@h:1", {"frames": 5})
    assert store.stats()["vision@h:1"]["frames"] == 5


def test_hotspots_digest_and_lifecycle_columns(store: Store) -> None:
    from citybrain.core.hotspots import HotspotAlert

    alert = HotspotAlert(
        id="hot-1",
        category="noise",
        district="xicheng",
        cell="87309a",
        opened_at=T0,
        updated_at=T0,
        count=5,
        baseline=0.5,
    )
    store.write_hotspots([alert])
    store.write_hotspots([HotspotAlert(**{**alert.__dict__, "count": 7})])  # upsert by id
    assert [(h.id, h.count, h.status) for h in store.hotspots()] == [("hot-1", 7, "open")]
    assert store.hotspot("hot-1").count == 7 and store.hotspot("nope") is None  # type: ignore[union-attr]
    st = Incident(
        id="inc-1",
        category="noise",
        district="xicheng",
        location=None,
        opened_at=T0,
        updated_at=T0,
        status="reopened",
        evidence_ids=("o1",),
        ticket_count=1,
        cell="84309a",
        camera_events=("noise@cam-01/scene",),
        routing=RULE,
    )
    store.write_incidents([_write(st, "s", [_obs("o1")])])
    (back,) = store.open_incidents()
    assert (back.status, back.cell, back.camera_events) == st_fields(st)
    assert store.digest(since=T0 - timedelta(hours=1)) == {"xicheng": [("noise", 1)]}
    assert [(e.observation_id, d) for e, d in store.ticket_evidence_since(T0)] == [
        ("o1", "xicheng")
    ]


def st_fields(st: Incident) -> tuple[str, str, tuple[str, ...]]:
    return (st.status, st.cell, st.camera_events)


def test_the_dispatch_jobs_decision_survives_later_incident_updates(store: Store) -> None:
    """The incident job creates the row with the rules' routing and a template summary, then
    writes only the fused state: the routing and summary are the dispatch job's, and stay
    through every later update (the dispatch job decides again on each new version)."""
    store.write_incidents([_write(_state(("a",)), "Flooding [template]", [_obs("a")])])
    model = RoutingDecision(department="city_roads", decided_by="model", reason="road surface")
    label = GeneratedLabel(generated_by="model", model="m", prompt_version="p1")
    facts = KeyFacts(
        category="flooding", category_name="Flooding", district="xicheng",
        district_name="Xicheng", status="open", severity="high", ticket_count=1,
        camera_count=0, first_seen=T0, last_seen=T0,
    )  # fmt: skip
    step = model_step.DispatchStep(
        decisions=[model_step.Decision("inc-1", model, "Water over Heping Road.", label, facts)]
    )
    store.write_dispatch_step(step)
    store.write_incidents([_write(_state(("a", "b")), "2 reports [template]")])
    row = store.incident("inc-1")[0]  # type: ignore[index]
    assert (row.department, row.decided_by, row.summary) == (
        "city_roads", "model", "Water over Heping Road."
    )  # fmt: skip
    assert row.ticket_count == 2  # the update itself landed
    moved = replace(_state(("a", "b", "c")), district="beicheng")
    store.write_incidents([_write(moved, "3 reports [template]")])
    row = store.incident("inc-1")[0]  # type: ignore[index]
    assert (row.district, row.ticket_count) == ("beicheng", 3)
    assert (row.department, row.decided_by, row.summary) == (
        "city_roads", "model", "Water over Heping Road."
    )  # fmt: skip


def test_reloaded_state_knows_which_cameras_saw_it(store: Store) -> None:
    """Fusion measures new evidence against the views of the cameras behind an incident;
    after a restart those cameras come back from the stored evidence."""
    cam = _obs("c").model_copy(update={"source": "camera", "source_id": "cam-01", "text": None})
    state = replace(_state(("a", "c")), cameras=("cam-01",), camera_count=1, ticket_count=1)
    store.write_incidents([_write(state, "s", [_obs("a"), cam])])
    [back] = store.open_incidents()
    assert back.cameras == ("cam-01",) and back == state
    assert store.load_incident("inc-1") == state
