"""Nothing lost, nothing doubled, against the real broker and real databases: checked sends,
too-large records, the transactional outbox across a crash at every point of the worker's
loop, and a PostgreSQL outage the worker rides out inside its group."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaProducer

from citybrain.chaos.postgres import PrivatePostgres
from citybrain.config import Settings
from citybrain.config.kafka import BrokerSettings
from citybrain.runtime import run_job
from citybrain.store import Store
from citybrain.streams import crash
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord, Output
from citybrain.streams.send import SendFailed
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics
from citybrain.streams.worker import StreamWorker

from .conftest import free_port, produce, read_topic
from .test_incidents_pipeline import obs, record

pytestmark = pytest.mark.integration


class Echo(Stage):
    """Sends each record on to `out_topic`, `grow` times as large."""

    name = "echo"

    def __init__(self, out_topic: str, grow: int = 1) -> None:
        self.out_topic = out_topic
        self.grow = grow
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        return Batch(outputs=[Output(self.out_topic, r.value * self.grow, r.key) for r in records])


def run_echo(s: Settings, stage: Echo, producer: KafkaProducer, dlq_max_bytes: int) -> None:
    topics = Topics(s.kafka.topic_prefix)
    worker = StreamWorker(
        make_consumer(s.kafka, "echo", 100),
        producer,
        stage,
        [topics.tickets],
        topics.dlq,
        dlq_max_bytes=dlq_max_bytes,
    )
    try:
        worker.run(threading.Event(), idle_exit_s=2.0, first_wait_s=15.0)
    finally:
        worker.consumer.close()


def test_failed_sends_are_not_committed(live_settings: Settings, tmp_path: Path) -> None:
    """The output's broker goes away after the producer knew it: kafka-python's flush only
    logs the expired batch. The worker raises before the commit, so the same group consumes
    the records again and delivers them once the output is reachable."""
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    values = [f"r{i}".encode() for i in range(10)]
    produce(s.kafka.bootstrap_servers, topics.tickets, [(None, v, []) for v in values])
    with EmbeddedBroker(BrokerSettings(port=free_port())) as other:
        gone = KafkaProducer(
            bootstrap_servers=other.bootstrap,
            acks="all",
            delivery_timeout_ms=3000,
            request_timeout_ms=1000,
            max_block_ms=3000,
        )
        gone.send("out", b"warm-up").get(timeout=10)  # metadata known, then the broker dies
    with pytest.raises(SendFailed):
        run_echo(s, Echo("out"), gone, 1024 * 1024)
    gone.close(0)
    healthy = Echo(topics.incidents)
    run_echo(s, healthy, make_producer(s.kafka), 1024 * 1024)
    got = sorted(r.value for r in read_topic(s.kafka.bootstrap_servers, topics.incidents))
    assert got == sorted(values)
    assert healthy.stats["out.incidents"] == len(values)


def test_records_too_large_go_to_the_dlq_with_their_head(live_settings: Settings) -> None:
    """Outputs over the producer's max_request_size cannot succeed on any retry: each goes to
    the DLQ cut to fit (with headers), with reason record_too_large; the partition moves on."""
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    produce(
        s.kafka.bootstrap_servers,
        topics.tickets,
        [(b"k", b"x" * 1000, []), (b"k", b"small", [])],
    )
    limit = 600 * 1024
    producer = KafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers, max_request_size=limit)
    stage = Echo(topics.incidents, grow=1000)  # 1 MB and 5 KB
    run_echo(s, stage, producer, dlq_max_bytes=limit)
    out = read_topic(s.kafka.bootstrap_servers, topics.incidents)
    assert [len(r.value) for r in out] == [5000]
    (dead,) = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    h = dict(dead.headers)
    assert h["dlq.reason"] == b"record_too_large" and h["dlq.truncated"] == b"True"
    assert h["dlq.source_topic"] == topics.incidents.encode()
    assert 0 < len(dead.value) < limit and dead.value == b"x" * len(dead.value)
    assert stage.stats["dlq.record_too_large"] == 1
    again = Echo(topics.incidents)
    run_echo(s, again, make_producer(s.kafka), limit)
    assert again.stats["consumed"] == 0  # committed: nothing stuck, nothing replayed


def incident_keys(s: Settings) -> Counter[bytes]:
    topic = Topics(s.kafka.topic_prefix).incidents
    return Counter(
        dict(r.headers)["idempotency-key"] for r in read_topic(s.kafka.bootstrap_servers, topic)
    )


def quick_lease(s: Settings) -> Settings:
    return s.model_copy(update={"workers": s.workers.model_copy(update={"outbox_lease_s": 1.0})})


def run_incidents(s: Settings) -> dict[str, int]:
    return run_job("incidents", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=15.0)


@pytest.mark.parametrize(
    "point",
    [
        "incidents.after_process",
        "incidents.after_sink",  # the store holds the incident, nothing was sent: the old loss
        "incidents.before_send",
        "incidents.after_send",
        "incidents.after_mark_sent",
        "incidents.after_commit",
    ],
)
def test_a_crash_anywhere_in_the_loop_loses_no_incident_message(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    """The incident job dies at `point` of its first batch and is started again. Every state
    of every incident reaches `<prefix>.incidents`, each under its own idempotency key; sent
    twice on the wire only when it died after the broker acknowledged and before the outbox
    marked it sent (the key lets consumers keep one)."""
    s = quick_lease(live_settings)
    topics = Topics(s.kafka.topic_prefix)
    a, b = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    c = obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, b, c)])
    crash.reset()
    monkeypatch.setenv(crash.ENV_AT, f"{point}:1")
    monkeypatch.setenv(crash.ENV_MODE, "raise")
    with pytest.raises(crash.SimulatedCrash):
        run_incidents(s)
    monkeypatch.delenv(crash.ENV_AT)
    time.sleep(1.5)  # the dead worker's outbox lease runs out
    run_incidents(s)
    keys = incident_keys(s)
    store = Store.from_url(s.store.url)
    incidents = store.incidents()
    want = {f"{i.id}:{len(store.incident(i.id)[1])}:{i.status}:0".encode() for i in incidents}  # type: ignore[index]
    assert len(incidents) == 2
    assert {k.split(b":", 1)[0] for k in keys} == {i.id.encode() for i in incidents}
    assert want <= set(keys)  # the latest state of each was announced
    if point != "incidents.after_send":
        assert max(keys.values()) == 1, keys  # and nothing twice
    assert store.outbox("incidents").unsent() == 0


def test_dispatch_messages_survive_a_crash_between_store_write_and_send(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatch job stored the dispatch and died before sending it: the replayed incident
    message finds the dispatch already made (so it is not made again), and the outbox still
    sends `<prefix>.dispatch` once."""
    from .test_incidents_pipeline import run_dispatch

    s = quick_lease(live_settings)
    topics = Topics(s.kafka.topic_prefix)
    produce(s.kafka.bootstrap_servers, topics.observations, [record(obs("a"))])
    run_incidents(s)
    crash.reset()
    monkeypatch.setenv(crash.ENV_AT, "dispatch.after_sink:1")
    monkeypatch.setenv(crash.ENV_MODE, "raise")
    with pytest.raises(crash.SimulatedCrash):
        run_dispatch(s)
    assert read_topic(s.kafka.bootstrap_servers, topics.dispatch) == []  # the old loss
    monkeypatch.delenv(crash.ENV_AT)
    time.sleep(1.5)
    run_dispatch(s)
    sent = read_topic(s.kafka.bootstrap_servers, topics.dispatch)
    store = Store.from_url(s.store.url)
    assert len(sent) == 1 and len(store.dispatches()) == 1
    assert dict(sent[0].headers)["idempotency-key"] == store.dispatches()[0].id.encode()


def test_a_database_outage_pauses_the_worker_in_its_group(
    live_settings: Settings,
) -> None:
    """PostgreSQL stops under a running incident job: the job neither dies nor drops what it
    consumed meanwhile; it pauses, keeps polling, and once the database is back it replays
    from the committed offsets. Every observation ends up stored once."""
    with PrivatePostgres(free_port()) as pg:
        s = live_settings.model_copy(
            update={
                "store": live_settings.store.model_copy(update={"url": pg.url}),
                "workers": live_settings.workers.model_copy(update={"dependency_retry_max_s": 1.0}),
            }
        )
        topics = Topics(s.kafka.topic_prefix)
        stop = threading.Event()
        result: dict[str, int] = {}

        def job() -> None:
            result.update(run_job("incidents", s, stop=stop))

        store = Store.from_url(pg.url)  # the tables, before the job starts
        worker = threading.Thread(target=job)
        worker.start()
        produce(s.kafka.bootstrap_servers, topics.observations, [record(obs("a"))])
        wait_for(lambda: len(store.evidence()) == 1)
        pg.stop()
        late = [obs("b", 5, at=(120.1284, 30.2871)), obs("c", 2, at=(120.155, 30.272))]
        produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in late])
        time.sleep(6)  # the worker meets the outage and rides it out
        assert worker.is_alive()
        pg.start()
        wait_for(lambda: len(store.evidence()) == 3)
        stop.set()
        worker.join(60)
        assert not worker.is_alive()
        assert result["dependency_down"] >= 1
        assert sorted(e.observation_id for e in store.evidence()) == ["a", "b", "c"]
        assert len(store.incidents()) == 2
        store.engine.dispose()


def wait_for(cond: object, timeout_s: float = 90.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if cond():  # type: ignore[operator]
                return
        except Exception:  # the database may be down for a moment
            pass
        time.sleep(0.3)
    raise AssertionError("condition not met in time")
