"""Offsets are committed only after the sink has written: a failed sink means redelivery."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from citybrain.config import Settings
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch, StreamWorker

from .conftest import produce

pytestmark = pytest.mark.integration


class SinkDown(Exception):
    pass


class RecordingStage:
    name = "recording"

    def __init__(self, fail_sink: bool) -> None:
        self.fail_sink = fail_sink
        self.stats: Counter[str] = Counter()
        self.seen: list[bytes] = []
        self.durable: list[bytes] = []
        self._pending: list[bytes] = []

    def process(self, records: list[InRecord]) -> Batch:
        self.seen += [r.value for r in records]
        self._pending += [r.value for r in records]
        return Batch()

    def sink(self) -> None:
        if self.fail_sink and self._pending:
            raise SinkDown("database unavailable")
        self.durable += self._pending
        self._pending.clear()

    def tick(self) -> Batch:
        return Batch()

    def on_assigned(self) -> None:
        pass


def run(s: Settings, stage: RecordingStage) -> None:
    topics = Topics(s.kafka.topic_prefix)
    worker = StreamWorker(
        make_consumer(s.kafka, "commit-test", 100),
        make_producer(s.kafka),
        stage,
        [topics.tickets],
        topics.dlq,
    )
    try:
        worker.run(threading.Event(), idle_exit_s=2.0, first_wait_s=15.0)
    finally:
        worker.close()


def test_failed_sink_leaves_offsets_uncommitted(live_settings: Settings) -> None:
    s = live_settings
    values = [f"r{i}".encode() for i in range(20)]
    produce(
        s.kafka.bootstrap_servers,
        Topics(s.kafka.topic_prefix).tickets,
        [(None, v, []) for v in values],
    )

    failing = RecordingStage(fail_sink=True)
    with pytest.raises(SinkDown):
        run(s, failing)
    assert failing.seen and not failing.durable

    healthy = RecordingStage(fail_sink=False)
    run(s, healthy)  # same group: everything not committed comes again
    assert sorted(healthy.durable) == sorted(values)

    after = RecordingStage(fail_sink=False)
    run(s, after)
    assert after.seen == []  # and once written, it was committed
