"""Two incident workers in one group, with members joining and leaving mid-stream, and a member
that dies between its store write and its offset commit (a forced rebalance): incident state
follows the partitions through the store, so nothing is duplicated or lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config import Settings
from citybrain.core.cells import cell_of, cell_partition_key
from citybrain.core.city import City
from citybrain.core.geo import partition_key
from citybrain.core.messages import GeoPoint, Observation
from citybrain.store import Store
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch, StreamWorker
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


def cell_observations(
    s: Settings, city: City, round_: int, camera: bool = False
) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """One observation per place, keyed by geo cell as the tickets and vision jobs key them."""
    out = []
    for district, (lon, lat) in PLACES.items():
        o = Observation(
            id=f"obs-{district}-{round_}",
            source="camera" if camera else "ticket",
            source_id="cam-01" if camera else f"T-{district}-{round_}",
            category="flooding",
            confidence=0.8,
            observed_at=NOW + timedelta(minutes=round_),
            location=GeoPoint(lon=lon, lat=lat),
            district=district,
            rule_id=f"flooding@cam-{district}/roadway" if camera else None,
            rule_state="continuing" if camera else None,
        )
        cell = cell_of(city, o.location, district, s.incidents.partition_resolution)
        out.append((cell_partition_key(cell).encode(), o.model_dump_json().encode(), []))
    return out


class Crash(BaseException):
    """Raised inside a worker to kill it like a lost process (not an error it handles)."""


class Member:
    """One incident worker running in a thread, stoppable on demand."""

    def __init__(self, s: Settings, city: object, store: Store) -> None:
        topics = Topics(s.kafka.topic_prefix)
        self.stage = IncidentStage(s, city, topics, store)  # type: ignore[arg-type]
        self.crash_after_write = False
        self.crashed = threading.Event()
        sink, process = self.stage.sink, self.stage.process
        fresh: list[bool] = []

        def process_and_note(records: list[InRecord]) -> Batch:
            fresh.append(True)
            return process(records)

        def sink_then_maybe_crash() -> None:
            sink()  # the store has the batch ...
            if self.crash_after_write and fresh:
                self.crashed.set()
                raise Crash  # ... but the offsets are never committed
            fresh.clear()

        self.stage.process = process_and_note  # type: ignore[method-assign]
        self.stage.sink = sink_then_maybe_crash  # type: ignore[method-assign]
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
        except Crash:
            pass
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
    # every incident went on to the dispatch job exactly as itself (keyed by its id)
    handed_on = read_topic(s.kafka.bootstrap_servers, topics.incidents)
    assert {r.key.decode() for r in handed_on} == {i.id for i in incidents}
    assert b.stage.stats["incidents_opened"] + a.stage.stats["incidents_opened"] == 6


def test_forced_rebalance_after_a_crash_between_write_and_commit(
    live_settings: Settings, city: City
) -> None:
    # Resolution 7: the six places are six cells, spread over both partitions.
    s = live_settings.model_copy(
        update={"incidents": live_settings.incidents.model_copy(update={"partition_resolution": 7})}
    )
    topics = Topics(s.kafka.topic_prefix)
    store = Store.from_url(s.store.url)
    a, b = Member(s, city, store), Member(s, city, store)
    wait_for(lambda: a.worker.consumer.assignment() and b.worker.consumer.assignment())
    produce(
        s.kafka.bootstrap_servers,
        topics.observations,
        cell_observations(s, city, 0) + cell_observations(s, city, 1, camera=True),
    )
    wait_for(lambda: a.stage.stats["consumed"] + b.stage.stats["consumed"] == 12)
    assert a.stage.stats["consumed"] > 0 and b.stage.stats["consumed"] > 0  # really shared

    a.crash_after_write = True  # a's next batch reaches the store, never the commit
    produce(
        s.kafka.bootstrap_servers,
        topics.observations,
        cell_observations(s, city, 2) + cell_observations(s, city, 3, camera=True),
    )
    wait_for(a.crashed.is_set)
    a.thread.join(30)
    # b takes a's partitions and is redelivered a's uncommitted batch.
    produce(s.kafka.bootstrap_servers, topics.observations, cell_observations(s, city, 4))
    wait_for(lambda: sum(len(store.incident(i.id)[1]) for i in store.incidents()) == 30)  # type: ignore[index]
    wait_for(lambda: b.stage.stats["duplicate_observations"] > 0)
    b.halt()

    incidents = store.incidents()
    assert sorted(i.district for i in incidents) == sorted(PLACES)  # one each, no duplicates
    for inc in incidents:
        _, evidence = store.incident(inc.id)  # type: ignore[misc]
        assert sorted(e.observation_id for e in evidence) == [
            f"obs-{inc.district}-{r}" for r in range(5)
        ]
        assert (inc.ticket_count, inc.camera_count) == (3, 2), inc.district
        assert inc.cell and inc.status == "updated"
    handed_on = read_topic(s.kafka.bootstrap_servers, topics.incidents)  # to the dispatch job
    assert {r.key.decode() for r in handed_on} == {i.id for i in incidents}
    assert b.stage.stats["incidents_opened"] + a.stage.stats["incidents_opened"] == 6
