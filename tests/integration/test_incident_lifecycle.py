"""The incident job against the real broker and store: camera events open and clear an
incident, a dispatcher's Feedback resolves one and returning evidence reopens it, a burst of
tickets raises a hot spot, and bad input (late, future, unknown category, deleted camera, bad
feedback) is dead-lettered with its reason and counted."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config import Settings
from citybrain.core.cells import cell_of, cell_partition_key
from citybrain.core.city import City
from citybrain.core.messages import Feedback, GeoPoint, Observation
from citybrain.runtime import run_job
from citybrain.store import Store
from citybrain.streams.topics import Topics

from .conftest import produce, read_topic

pytestmark = pytest.mark.integration
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
XINHUA = (120.128, 30.287)  # cam-02, xicheng
RENMIN = (120.155, 30.272)  # cam-03, beicheng


def obs(
    oid: str,
    minutes: float,
    *,
    at: tuple[float, float] = XINHUA,
    district: str = "xicheng",
    category: str = "flooding",
    camera: str | None = None,
    state: str | None = None,
) -> Observation:
    return Observation(
        id=oid,
        source="camera" if camera else "ticket",
        source_id=camera or f"T-{oid}",
        category=category,
        confidence=0.0 if state == "cleared" else 0.8,
        observed_at=BASE + timedelta(minutes=minutes),
        location=GeoPoint(lon=at[0], lat=at[1]),
        district=district,
        rule_id=f"{category}@{camera}/roadway" if camera else None,
        rule_state=state,  # type: ignore[arg-type]
    )


def rec(city: City, s: Settings, o: Observation) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    cell = cell_of(city, o.location, o.district, s.incidents.partition_resolution)
    return (cell_partition_key(cell).encode(), o.model_dump_json().encode(), [])


def run(s: Settings) -> dict[str, int]:
    # first_wait_s bounds only a run that never gets data: rejoining the group on the dev broker
    # can take well over 15 s on a loaded machine, and a run that gave up early saw nothing.
    return run_job("incidents", s, stop=threading.Event(), idle_exit_s=2.0, first_wait_s=60.0)


def test_lifecycle_feedback_hotspots_and_bad_input(live_settings: Settings, city: City) -> None:
    s = live_settings
    t = Topics(s.kafka.topic_prefix)
    boot = s.kafka.bootstrap_servers
    flood = [
        obs("f1", 0),
        obs("f2", 3, camera="cam-02", state="opened"),
        obs("f3", 4, camera="cam-02", state="continuing"),
    ]
    pothole = [obs("p1", 1, at=RENMIN, district="beicheng", category="pothole")]
    noise = [
        obs(f"n{i}", 10 + i, at=RENMIN, district="beicheng", category="noise") for i in range(5)
    ]
    clear = [obs("f4", 20, camera="cam-02", state="cleared")]  # the camera stops seeing it
    bad = [
        (obs("late", -90), "late_observation"),  # 90 min behind the watermark (limit 60)
        (
            obs("fut", 0).model_copy(
                update={"observed_at": datetime.now(UTC) + timedelta(hours=1)}
            ),
            "timestamp_out_of_range",
        ),
        (obs("u", 5, category="meteor_strike"), "unknown_category"),
        (obs("k", 5, camera="cam-deleted", state="opened"), "unknown_camera"),
    ]
    produce(boot, t.observations, [rec(city, s, o) for o in flood + pothole + noise + clear])
    produce(boot, t.observations, [rec(city, s, o) for o, _ in bad])
    first = run(s)
    assert first["incidents_opened"] == 3  # flooding, pothole, noise
    assert first["incidents_resolved.cameras"] == 1
    assert {k: v for k, v in first.items() if k.startswith("dlq.")} == {
        f"dlq.{r}": 1 for _, r in bad
    }

    store = Store.from_url(s.store.url)
    by_cat = {i.category: i for i in store.incidents()}
    assert by_cat["flooding"].status == "resolved" and by_cat["flooding"].resolved_by == "cameras"
    assert by_cat["flooding"].camera_count == 2 and by_cat["flooding"].ticket_count == 1  # + clear
    _, evidence = store.incident(by_cat["flooding"].id)  # type: ignore[misc]
    assert [(e.observation_id, e.source, e.source_id) for e in evidence] == [
        ("f1", "ticket", "T-f1"),
        ("f2", "camera", "cam-02"),
        ("f3", "camera", "cam-02"),
        ("f4", "camera", "cam-02"),
    ]
    assert evidence[0].rule is None
    assert (evidence[1].rule or {})["rule_state"] == "opened"
    assert (evidence[3].rule or {})["rule_id"] == "flooding@cam-02/roadway"
    (hot,) = store.hotspots()
    assert (hot.category, hot.district, hot.count) == ("noise", "beicheng", 5)
    alerts = [json.loads(r.value) for r in read_topic(boot, t.alerts)]
    assert {a["type"] for a in alerts} == {"hotspot", "digest"}
    digest = next(a for a in alerts if a["type"] == "digest")
    assert ["noise", 1] in digest["districts"]["beicheng"]

    # A dispatcher resolves the pothole (keyed like its evidence); the ticket that follows
    # reopens it; feedback that cannot apply goes to the DLQ.
    pot = by_cat["pothole"]
    assert pot.cell
    fb = Feedback(incident_id=pot.id, action="resolve", actor="d1", at=BASE + timedelta(minutes=25))
    key = cell_partition_key(pot.cell).encode()
    produce(
        boot,
        t.feedback,
        [
            (key, fb.model_dump_json().encode(), []),
            (key, fb.model_copy(update={"incident_id": "inc-nope"}).model_dump_json().encode(), []),
            (key, b"{not json", []),
            (key, fb.model_copy(update={"action": "accept"}).model_dump_json().encode(), []),
        ],
    )
    second = run(s)
    assert second["incidents_resolved.dispatcher"] == 1 and second["feedback.accept"] == 1
    assert second["dlq.unknown_incident"] == 1 and second["dlq.invalid_feedback"] == 1
    resolved = {i.id: i for i in store.incidents()}[pot.id]
    assert (resolved.status, resolved.resolved_by) == ("resolved", "dispatcher")

    produce(
        boot,
        t.observations,
        [rec(city, s, obs("p2", 40, at=RENMIN, district="beicheng", category="pothole"))],
    )
    third = run(s)
    assert third["incidents_reopened"] == 1 and third.get("incidents_opened", 0) == 0
    back = {i.id: i for i in store.incidents()}[pot.id]
    assert back.status == "reopened" and back.resolved_at is None and back.ticket_count == 2
