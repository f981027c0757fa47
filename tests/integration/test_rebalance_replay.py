"""The same offsets delivered twice after a rebalance, against the real broker and store: a
worker processes a batch and stalls before its commit, the group gives its partitions to a
second worker, which reads the same records again. The store holds each incident and each
dispatch once, and each idempotency key reaches the output topic once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from citybrain.config import Settings, load_city
from citybrain.runtime import run_job
from citybrain.store import TRANSIENT_ERRORS, Store
from citybrain.streams.jobs import job_spec
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch, Stage, StreamWorker
from pipelines.dispatch import DispatchStage
from pipelines.incidents import IncidentStage

from .conftest import produce, read_topic
from .test_incidents_pipeline import obs, record

pytestmark = pytest.mark.integration


class Stall:
    """Mixed into a real stage: its first batch is processed, then the worker stalls past the
    consumer's max poll interval before it writes and commits, so the group moves on."""

    stall_s = 0.0
    stalled: threading.Event

    def process(self, records: list[InRecord]) -> Batch:
        batch: Batch = super().process(records)  # type: ignore[misc]
        if records and not self.stalled.is_set():
            self.stalled.set()
            threading.Event().wait(self.stall_s)
        return batch


class StallingIncidents(Stall, IncidentStage):
    pass


class StallingDispatch(Stall, DispatchStage):
    pass


def start(job: str, s: Settings, stage: Stage, out: dict[str, int]) -> threading.Thread:
    """One worker of `job`'s group in a thread, as `run_job` builds it, with `stage`."""
    spec = job_spec(job)
    topics = Topics(s.kafka.topic_prefix)
    worker = StreamWorker(
        make_consumer(s.kafka, job, spec.max_poll_records(s)),
        make_producer(s.kafka),
        stage,
        spec.inputs(topics),
        topics.dlq,
        transient=TRANSIENT_ERRORS,
    )

    def loop() -> None:
        try:
            worker.run(threading.Event(), idle_exit_s=3.0, first_wait_s=60.0)
        finally:
            worker.close()
            close = getattr(stage, "close", None)
            if close is not None:
                close()
            out.update(stage.stats)

    t = threading.Thread(target=loop, name=f"{job}-worker")
    t.start()
    return t


def replayed_by_a_second_worker(
    job: str, s: Settings, stalling: Callable[[], Stall], other: Callable[[], Stage]
) -> tuple[dict[str, int], dict[str, int]]:
    """The first worker takes the records and stalls; the second joins and is given them."""
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    stage = stalling()
    stage.stall_s = 2.5 * s.kafka.max_poll_interval_ms / 1000
    stage.stalled = threading.Event()
    a = start(job, s, stage, first)  # type: ignore[arg-type]
    assert stage.stalled.wait(60), "the first worker never got the records"
    b = start(job, s, other(), second)
    for t in (a, b):
        t.join(180)
        assert not t.is_alive()
    return first, second


def keys_on(s: Settings, topic: str) -> Counter[bytes]:
    return Counter(
        dict(r.headers)["idempotency-key"] for r in read_topic(s.kafka.bootstrap_servers, topic)
    )


def test_incidents_replayed_after_a_rebalance_are_stored_and_announced_once(
    live_settings: Settings,
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    a, b = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    c = obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, b, c)])
    city = load_city(s)

    first, second = replayed_by_a_second_worker(
        "incidents",
        s,
        lambda: StallingIncidents(s, city, topics, Store.from_url(s.store.url)),
        lambda: IncidentStage(s, city, topics, Store.from_url(s.store.url)),
    )
    assert first["commit_failed"] == 1  # the first worker's commit came too late
    assert second["consumed"] == 3  # the same offsets, read again by the new owner

    store = Store.from_url(s.store.url)
    assert sorted(e.observation_id for e in store.evidence()) == ["a", "b", "c"]
    incidents = store.incidents()
    assert len(incidents) == 2
    keys = keys_on(s, topics.incidents)
    assert max(keys.values()) == 1, keys  # each incident state announced once
    latest = {f"{i.id}:{len(store.incident(i.id)[1])}:{i.status}:0".encode() for i in incidents}  # type: ignore[index]
    assert latest <= set(keys)
    assert store.outbox("incidents").unsent() == 0


def test_dispatches_replayed_after_a_rebalance_are_made_and_sent_once(
    live_settings: Settings,
) -> None:
    s = live_settings.model_copy(
        update={"llm": live_settings.llm.model_copy(update={"enabled": False})}
    )
    topics = Topics(s.kafka.topic_prefix)
    a, c = obs("a"), obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, c)])
    run_job("incidents", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=15.0)
    city = load_city(s)

    first, second = replayed_by_a_second_worker(
        "dispatch",
        s,
        lambda: StallingDispatch(s, city, topics, Store.from_url(s.store.url), None),
        lambda: DispatchStage(s, city, topics, Store.from_url(s.store.url), None),
    )
    assert first["commit_failed"] == 1
    assert second["consumed"] >= 2

    store = Store.from_url(s.store.url)
    made = store.dispatches()
    assert len(made) == 2 and len({d.incident_id for d in made}) == 2
    keys = keys_on(s, topics.dispatch)
    assert keys == Counter({d.id.encode(): 1 for d in made})  # each dispatch sent once
    assert store.outbox("dispatch").unsent() == 0
