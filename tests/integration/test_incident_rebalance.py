"""Two incident workers in one group, with members joining and leaving mid-stream: incident
state follows the partitions through the store, so nothing is duplicated or lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config import Settings
from citybrain.core.geo import partition_key
from citybrain.core.messages import GeoPoint, Observation
from citybrain.store import Store
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.topics import Topics
from citybrain.streams.worker import StreamWorker
from pipelines.incidents import IncidentStage

from .conftest import produce, read_topic

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
PLACES = {  # one camera intersection per district
    "xicheng": (120.115, 30.272),
    "beicheng": (120.155, 30.272),
    "dongcheng": (120.195, 30.272),
    "nanhu": (120.115, 30.248),
    "jiangbin": (120.155, 30.248),
    "gaoxin": (120.195, 30.248),
}


def observations(round_: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    out = []
    for district, (lon, lat) in PLACES.items():
        o = Observation(
            id=f"obs-{district}-{round_}",
            source="ticket",
            source_id=f"T-{district}-{round_}",
            category="flooding",
            confidence=0.8,
            observed_at=NOW + timedelta(minutes=round_),
            location=GeoPoint(lon=lon, lat=lat),
            district=district,
        )
        out.append((partition_key(district).encode(), o.model_dump_json().encode(), []))
    return out


class Member:
    """One incident worker running in a thread, stoppable on demand."""

    def __init__(self, s: Settings, city: object, store: Store) -> None:
        topics = Topics(s.kafka.topic_prefix)
        self.stage = IncidentStage(s, city, topics, store)  # type: ignore[arg-type]
        self.worker = StreamWorker(
            make_consumer(s.kafka, "incidents", 50),
            make_producer(s.kafka),
            self.stage,
            [topics.observations],
            topics.dlq,
            poll_timeout_ms=200,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run(self.stop)
        finally:
            self.worker.close()

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(30)


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_join_and_leave_mid_stream(live_settings: Settings, city: object) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    store = Store.from_url(s.store.url)
    a = Member(s, city, store)
    produce(s.kafka.bootstrap_servers, topics.observations, observations(0) + observations(1))
    wait_for(lambda: a.stage.stats["consumed"] == 12)

    b = Member(s, city, store)  # joins: the group rebalances the two partitions
    wait_for(
        lambda: b.stage.stats.get("consumed", 0) > 0 or len(b.worker.consumer.assignment()) > 0
    )
    produce(s.kafka.bootstrap_servers, topics.observations, observations(2) + observations(3))
    wait_for(lambda: a.stage.stats["consumed"] + b.stage.stats["consumed"] == 24)
    assert b.stage.stats["consumed"] > 0 and a.stage.stats["consumed"] > 12  # really shared

    a.halt()  # leaves: b takes every partition, with the state a wrote
    produce(s.kafka.bootstrap_servers, topics.observations, observations(4))
    wait_for(lambda: a.stage.stats["consumed"] + b.stage.stats["consumed"] >= 30)
    b.halt()

    incidents = store.incidents()
    assert sorted(i.district for i in incidents) == sorted(PLACES)  # one each, no duplicates
    for inc in incidents:
        _, evidence = store.incident(inc.id)  # type: ignore[misc]
        assert len(evidence) == 5 and inc.ticket_count == 5, inc.district
    assert len(store.dispatches()) == 6
    assert len(read_topic(s.kafka.bootstrap_servers, topics.dispatch)) == 6
    assert b.stage.stats["incidents_opened"] + a.stage.stats["incidents_opened"] == 6
