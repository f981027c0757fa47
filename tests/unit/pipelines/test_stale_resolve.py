"""A dispatcher's resolve held in the web's outbox while Kafka was down arrives late: if the
incident took new evidence after the dispatcher acted, the resolve is stale and ignored. A real
SQLite store, the real worker loop over the in-memory consumer (streams/testing.py)."""

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


def test_a_resolve_older_than_the_last_evidence_is_ignored(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={"store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"})}
    )
    store, topics = Store.from_url(s.store.url), Topics("t")
    now = datetime.now(UTC).replace(microsecond=0)
    first = Observation(
        id="o1", source="ticket", source_id="T1", category="flooding", confidence=0.9,
        observed_at=now - timedelta(hours=2), location=GeoPoint(lon=120.128, lat=30.287),
        district="xicheng", precision="point", text="underpass flooded",
    )  # fmt: skip
    again = first.model_copy(
        update={"id": "o2", "source_id": "T2", "observed_at": now - timedelta(minutes=30)}
    )
    stage = IncidentStage(s, city, topics, store)
    worker = StageHarness(stage)

    def obs(o: Observation) -> Incoming:
        return Incoming(topics.observations, o.model_dump_json().encode(), b"k")

    worker.run([obs(first)])
    (incident_id,) = stage.fuser.incidents
    # resolved an hour ago, while Kafka was down; the water came back half an hour ago
    late = Feedback(
        incident_id=incident_id, action="resolve", actor="d-1",
        at=now - timedelta(hours=1), reason="pumped",
    )  # fmt: skip
    worker.run([obs(again)])
    worker.run([Incoming(topics.feedback, late.model_dump_json().encode(), b"k")])
    assert stage.fuser.incidents[incident_id].is_open
    assert stage.stats["feedback.stale_resolve"] == 1
    stored = store.load_incident(incident_id)
    assert stored is not None and stored.is_open

    fresh = late.model_copy(update={"at": now})  # a resolve taken after the last evidence
    worker.run([Incoming(topics.feedback, fresh.model_dump_json().encode(), b"k")])
    assert not stage.fuser.incidents[incident_id].is_open
