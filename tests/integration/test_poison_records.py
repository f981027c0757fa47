"""A poison record, one the stage raises on every time, against the real broker: it goes to the
DLQ as `stage_error` after its tries, the records around it go through once each, and the
partition is committed past it (before, the job died and its restart died on it again)."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from datetime import datetime

import pytest

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import Observation
from citybrain.core.ticket_path import ReadTicket
from citybrain.store import TRANSIENT_ERRORS, Store
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Stage
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch, StreamWorker
from pipelines.incidents import IncidentStage
from pipelines.tickets import TicketStage

from .conftest import produce, read_topic, run_until_idle
from .test_incidents_pipeline import obs, record

pytestmark = pytest.mark.integration


class Fragile(Stage):
    """Keeps each record's value until sink() makes it durable, and sends it on. Raises on
    `poison` every time and on `flaky` the first time only. A failed batch leaves half-done
    work behind, which on_assigned() (the worker's undo) must drop."""

    name = "fragile"

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic
        self.stats: Counter[str] = Counter()
        self.durable: list[bytes] = []
        self._pending: list[bytes] = []
        self._flaked = False

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        for r in records:
            self._pending.append(r.value)
            if r.value == b"poison":
                raise ValueError("cannot digest this one")
            if r.value == b"flaky" and not self._flaked:
                self._flaked = True
                raise RuntimeError("a passing fault")
            batch.outputs.append(Output(self.out_topic, r.value, r.key))
        return batch

    def sink(self) -> None:
        self.durable += self._pending
        self._pending.clear()

    def on_assigned(self) -> None:
        self._pending.clear()


def run(s: Settings, stage: Fragile, retries: int = 3) -> None:
    run_until_idle(s, stage, "poison-test", poison_retries=retries)


def test_a_poison_record_goes_to_the_dlq_and_the_rest_goes_through_once(
    live_settings: Settings,
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    values = [b"r0", b"r1", b"r2", b"poison", b"r4", b"flaky", b"r6", b"r7"]
    for key in (b"a", b"b"):  # both partitions (most likely), one batch each way
        produce(s.kafka.bootstrap_servers, topics.tickets, [(key, v, []) for v in values])
    stage = Fragile(topics.incidents)
    run(s, stage)  # returns: the job did not die on the poison records

    good = [v for v in values if v != b"poison"]
    assert Counter(stage.durable) == Counter({v: 2 for v in good})  # the flaky one once each
    sent = Counter(r.value for r in read_topic(s.kafka.bootstrap_servers, topics.incidents))
    assert sent == Counter({v: 2 for v in good})  # nothing doubled, nothing lost
    dead = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert [d.value for d in dead] == [b"poison", b"poison"]
    for d in dead:
        h = dict(d.headers)
        assert h["dlq.reason"] == b"stage_error"
        assert b"ValueError: cannot digest this one" in h["dlq.detail"]
        assert h["dlq.stage"] == b"fragile"
        assert h["dlq.source_topic"] == topics.tickets.encode()
    source = {
        (r.partition, r.offset): r.value
        for r in read_topic(s.kafka.bootstrap_servers, topics.tickets)
    }
    at = [
        (int(dict(d.headers)["dlq.source_partition"]), int(dict(d.headers)["dlq.source_offset"]))
        for d in dead
    ]
    assert [source[p] for p in at] == [b"poison", b"poison"] and len(set(at)) == 2
    assert {d.key for d in dead} == {b"a", b"b"}
    assert stage.stats["dlq.stage_error"] == 2 and stage.stats["dlq"] == 2
    assert stage.stats["stage_errors"] >= 2 * 3 + 1  # three tries per poison record, one flake

    again = Fragile(topics.incidents)
    run(s, again)
    assert again.stats["consumed"] == 0  # committed past the poison: nothing stuck


def test_one_try_sends_a_failing_record_to_the_dlq_at_once(live_settings: Settings) -> None:
    """`workers.poison_retries: 1`: a record alone in its batch is dead-lettered on its first
    failure; a record that fails only inside a larger batch is not (it was not the culprit)."""
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    produce(s.kafka.bootstrap_servers, topics.tickets, [(b"a", b"flaky", []), (b"a", b"r1", [])])
    stage = Fragile(topics.incidents)
    run(s, stage, retries=1)
    assert stage.stats["dlq"] == 0  # the batch failed; alone, the flaky record went through
    assert Counter(stage.durable) == Counter({b"flaky": 1, b"r1": 1})


class ChokesOnOne(IncidentStage):
    """The real incident stage, with a fault that only one observation meets (a bug that
    validation cannot see): it raises after the batch's earlier records were fused."""

    def _parse(self, raw: bytes, now: datetime) -> Observation:
        parsed = super()._parse(raw, now)
        if parsed.id == "poison":
            raise KeyError("a field this code did not expect")
        return parsed


def run_incidents_with(s: Settings, stage: IncidentStage) -> None:
    topics = Topics(s.kafka.topic_prefix)
    worker = StreamWorker(
        make_consumer(s.kafka, "incidents", 200),
        make_producer(s.kafka),
        stage,
        [topics.observations, topics.feedback],
        topics.dlq,
        transient=TRANSIENT_ERRORS,
        poison_retries=s.workers.poison_retries,
    )
    try:
        # joining the group can take long on a busy shared broker; nothing is waited for
        # once the records have come
        worker.run(threading.Event(), idle_exit_s=3.0, first_wait_s=60.0)
    finally:
        worker.close()


def test_the_incident_job_dead_letters_a_poison_observation_and_keeps_the_rest_once(
    live_settings: Settings, city: City
) -> None:
    """What the failed batch fused before the poison record is undone (the stage reloads from
    the store) and done again one record at a time: every other observation is stored once,
    every incident state announced once; the poison one is in the DLQ."""
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    a, b = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    poison = obs("poison", 6, at=(120.1284, 30.2871))
    c = obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, b, poison, c)])
    store = Store.from_url(s.store.url)
    stage = ChokesOnOne(s, city, topics, store)
    run_incidents_with(s, stage)

    assert sorted(e.observation_id for e in store.evidence()) == ["a", "b", "c"]
    assert len(store.incidents()) == 2
    keys = Counter(
        dict(r.headers)["idempotency-key"]
        for r in read_topic(s.kafka.bootstrap_servers, topics.incidents)
    )
    assert keys and max(keys.values()) == 1, keys
    assert store.outbox("incidents").unsent() == 0
    (dead,) = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert dict(dead.headers)["dlq.reason"] == b"stage_error"
    assert b"KeyError" in dict(dead.headers)["dlq.detail"]
    assert Observation.model_validate_json(dead.value).id == "poison"
    assert stage.stats["dlq.stage_error"] == 1

    again = ChokesOnOne(s, city, topics, store)
    run_incidents_with(s, again)
    assert again.stats["consumed"] == 0


class ChokesOnTicket(TicketStage):
    """The real ticket stage with a fault one ticket meets, whose message quotes the ticket."""

    def _read(self, raw: bytes) -> ReadTicket:
        read = super()._read(raw)
        if b'"T-99"' in raw:
            raise ValueError(f"could not place {raw.decode()}")
        return read


def test_a_poison_ticket_reaches_the_dlq_redacted(
    live_settings: Settings, city: City, caplog: pytest.LogCaptureFixture
) -> None:
    """Like every rejected ticket, a poison one is kept in the DLQ without its personal data,
    in its value and in the exception's text; the job's log names the exception and where it
    was raised, never its text."""
    caplog.set_level(logging.WARNING, logger="citybrain.streams.worker")
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    text = "新华路与中山路交叉口积水严重，我叫王芳，电话13812345678"
    tickets = [
        json.dumps(
            {"ticket_id": tid, "received_at": "2026-05-01T08:00:00+00:00", "text": text},
            ensure_ascii=False,
        ).encode()
        for tid in ("T-98", "T-99")
    ]
    produce(s.kafka.bootstrap_servers, topics.tickets, [(b"t", v, []) for v in tickets])
    stage = ChokesOnTicket(s, city, topics, router=None)
    run_until_idle(s, stage, "tickets")

    assert stage.stats["tickets"] == 1  # T-98 went through
    (dead,) = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    h = dict(dead.headers)
    assert h["dlq.reason"] == b"stage_error" and h["dlq.redacted"] == b"True"
    assert b"ValueError: could not place" in h["dlq.detail"]
    for private in ("13812345678", "王芳"):
        assert private.encode() not in dead.value and private.encode() not in h["dlq.detail"]
        assert private not in caplog.text
    assert "ValueError (message withheld)" in caplog.text and "in _read" in caplog.text
    assert json.loads(dead.value)["ticket_id"] == "T-99"
