"""Two incident workers over one real SQLite store (no broker: each stage runs under the real
worker loop with an in-memory consumer, streams/testing.py). A copy of an incident that a
worker loaded before someone else changed it must not overwrite the newer stored state when
the stale worker's idle timeout fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import Feedback, GeoPoint, Observation
from citybrain.store import Store
from citybrain.streams.testing import Incoming, StageHarness
from citybrain.streams.topics import Topics
from pipelines.incidents import IncidentStage


def _record(topic: str, value: bytes) -> Incoming:
    return Incoming(topic, value, key=b"k")


def test_a_stale_copy_never_overwrites_a_dispatchers_resolution(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={"store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"})}
    )
    store, topics = Store.from_url(s.store.url), Topics("t")
    now = datetime.now(UTC).replace(microsecond=0)
    flood = Observation(
        id="o1", source="ticket", source_id="T1", category="flooding", confidence=0.9,
        observed_at=now - timedelta(hours=23), location=GeoPoint(lon=120.128, lat=30.287),
        district="xicheng", precision="point", text="underpass flooded",
    )  # fmt: skip
    a = IncidentStage(s, city, topics, store)
    worker_a = StageHarness(a)
    worker_a.run([_record(topics.observations, flood.model_dump_json().encode())])
    (incident_id,) = a.fuser.incidents

    b = IncidentStage(s, city, topics, store)  # loads the open incident: a copy
    fb = Feedback(
        incident_id=incident_id, action="resolve", actor="dispatcher-1", at=now, reason="pumped"
    )
    worker_a.run([_record(topics.feedback, fb.model_dump_json().encode())])
    # B's copy goes idle (its watermark moves on with other evidence) and times out
    later = flood.model_copy(
        update={
            "id": "o2", "source_id": "T2", "category": "pothole",
            "observed_at": now - timedelta(hours=23) + timedelta(seconds=s.incidents.idle_resolve_s + 60),
            "location": GeoPoint(lon=120.155, lat=30.272), "district": "beicheng",
        }
    )  # fmt: skip
    StageHarness(b).run([_record(topics.observations, later.model_dump_json().encode())], ticks=1)
    assert b.stats["incidents_resolved.timeout"] == 0
    stored = store.load_incident(incident_id)
    assert stored is not None and stored.resolved_by == "dispatcher"
    assert b.fuser.incidents[incident_id].resolved_by == "dispatcher"  # B adopted the truth


def _noise(i: int, minute: float, base: datetime, at: GeoPoint, category: str = "noise") -> bytes:
    return Observation(
        id=f"{category}-{i}", source="ticket", source_id=f"T-{category}-{i}", category=category,
        confidence=0.9, observed_at=base + timedelta(minutes=minute), location=at,
        district="beicheng", precision="point", text="loud music at night",
    ).model_dump_json().encode()  # fmt: skip


def test_a_hot_spot_is_closed_by_the_worker_that_holds_its_area(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    """Worker A gets a steady stream of noise tickets in one area (its alert stays hot without
    growing); worker B, which loaded the alert but gets none of those tickets, sees the area go
    quiet in its own memory and must not close it. A closes it once the tickets stop."""
    hot = settings.hotspots.model_copy(
        update={"bucket_s": 60.0, "window_buckets": 10, "baseline_buckets": 30, "min_count": 5}
    )
    s = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
            "hotspots": hot,
        }
    )
    store, topics = Store.from_url(s.store.url), Topics("t")
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    x, y = GeoPoint(lon=120.155, lat=30.272), GeoPoint(lon=120.2, lat=30.24)

    def feed(worker: StageHarness, values: list[bytes], ticks: int = 0) -> None:
        worker.run([_record(topics.observations, v) for v in values], ticks=ticks)

    a = IncidentStage(s, city, topics, store)
    worker_a = StageHarness(a)
    feed(worker_a, [_noise(i, i, base, x) for i in range(10)])  # 10 in 10 minutes: hot
    [alert] = store.hotspots()
    assert alert.status == "open" and alert.count == 10
    b = IncidentStage(s, city, topics, store)  # a second worker loads it
    feed(worker_a, [_noise(i, i, base, x) for i in range(10, 26)])  # steady: hot, not growing
    # B's own area, time moves on
    feed(StageHarness(b), [_noise(0, 25, base, y, category="pothole")], ticks=1)
    assert store.hotspot(alert.id).status == "open"  # type: ignore[union-attr]
    assert b.stats["hotspot_alerts_closed"] == 0

    # the tickets stop; the worker that held the area sees it cool down and closes it
    feed(worker_a, [_noise(2, 40, base, y, category="pothole")], ticks=1)
    assert store.hotspot(alert.id).status == "closed"  # type: ignore[union-attr]
    assert a.stats["hotspot_alerts_closed"] == 1
