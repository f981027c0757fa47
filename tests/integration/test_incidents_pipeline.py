"""The incident pipeline against the real broker and store: fusion, routing, restarts, DLQ."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config import Settings
from citybrain.core.geo import partition_key
from citybrain.core.messages import Dispatch, GeoPoint, Observation
from citybrain.runtime import run_job
from citybrain.store import Store
from citybrain.streams.topics import Topics

from .conftest import produce, read_topic

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def obs(
    oid: str,
    minutes: int = 0,
    *,
    at: tuple[float, float] | None = (120.128, 30.287),
    district: str | None = "xicheng",
    category: str = "flooding",
    source: str = "ticket",
    source_id: str | None = None,
) -> Observation:
    return Observation(
        id=oid,
        source=source,
        source_id=source_id or f"T-{oid}",  # type: ignore[arg-type]
        category=category,
        confidence=0.8,
        observed_at=NOW - timedelta(hours=1) + timedelta(minutes=minutes),
        location=GeoPoint(lon=at[0], lat=at[1]) if at else None,
        district=district,
        precision="point" if at else "district",
    )


def record(o: Observation) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return (partition_key(o.district).encode(), o.model_dump_json().encode(), [])


def run_incidents(s: Settings) -> dict[str, int]:
    return run_job("incidents", s, stop=threading.Event(), idle_exit_s=2.0, first_wait_s=15.0)


def run_dispatch(s: Settings) -> dict[str, int]:
    """The dispatch job, rules only (the model step has its own tests)."""
    s = s.model_copy(update={"llm": s.llm.model_copy(update={"enabled": False})})
    return run_job("dispatch", s, stop=threading.Event(), idle_exit_s=2.0, first_wait_s=15.0)


def test_observations_fuse_route_survive_restart_and_reject_bad_input(
    live_settings: Settings,
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    a, b = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    c = obs("c", 2, at=(120.155, 30.272), district="beicheng")
    d = obs("d", 7, at=None)  # the same district, no point: joins the flooding there
    future = obs("f", 60 * 48)
    bad = [
        (b"district:x", b"{oops", [], "invalid_observation"),
        (*record(obs("u", category="meteor_strike")), "unknown_category"),
        (*record(future), "timestamp_out_of_range"),
        (*record(obs("k", source="camera", source_id="cam-deleted")), "unknown_camera"),
    ]
    produce(
        s.kafka.bootstrap_servers,
        topics.observations,
        [record(o) for o in (a, b, c, d)] + [x[:3] for x in bad],
    )  # type: ignore[misc]
    first = run_incidents(s)
    assert first["dlq"] == 4 and first["incidents_opened"] == 2 and first["incidents_updated"] == 2

    store = Store.from_url(s.store.url)
    by_district = {i.district: i for i in store.incidents()}
    assert set(by_district) == {"xicheng", "beicheng"}
    assert by_district["xicheng"].ticket_count == 3
    assert by_district["xicheng"].department == "water_drainage"
    assert by_district["xicheng"].decided_by == "rule"
    assert len(read_topic(s.kafka.bootstrap_servers, topics.incidents)) == 4
    run_dispatch(s)
    dispatches = [
        Dispatch.model_validate_json(r.value)
        for r in read_topic(s.kafka.bootstrap_servers, topics.dispatch)
    ]
    assert len(dispatches) == 2 and {x.department for x in dispatches} == {"water_drainage"}
    dead = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert sorted(dict(r.headers)["dlq.reason"].decode() for r in dead) == sorted(x[3] for x in bad)

    # A new worker (state rebuilt from the store) gets a redelivered and a new observation.
    produce(s.kafka.bootstrap_servers, topics.observations, [record(a), record(obs("e", 9))])
    second = run_incidents(s)
    assert second["duplicate_observations"] == 1 and second["incidents_updated"] == 1
    assert second.get("incidents_opened", 0) == 0
    run_dispatch(s)
    incidents = store.incidents()
    assert len(incidents) == 2
    _, evidence = store.incident(by_district["xicheng"].id)  # type: ignore[misc]
    assert sorted(e.observation_id for e in evidence) == ["a", "b", "d", "e"]
    assert len(read_topic(s.kafka.bootstrap_servers, topics.dispatch)) == 2  # no re-dispatch
