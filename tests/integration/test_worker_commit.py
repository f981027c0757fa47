"""Offsets are committed only after the sink has written: a failed sink means redelivery."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from citybrain.config import Settings
from citybrain.streams.records import InRecord
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics

from .conftest import committed_total, produce, run_until_idle

pytestmark = pytest.mark.integration


class SinkDown(Exception):
    pass


class RecordingStage(Stage):
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


def run(s: Settings, stage: RecordingStage) -> None:
    run_until_idle(s, stage, "commit-test")


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

    # and once written, it was committed
    assert committed_total(s, "commit-test", Topics(s.kafka.topic_prefix).tickets) == len(values)


class SlowFirstBatch(RecordingStage):
    """The first batch outlasts the consumer's max poll interval, as a CPU-starved vision
    batch can: the group rebalances under it and its commit is refused."""

    def __init__(self, pause_s: float) -> None:
        super().__init__(fail_sink=False)
        self.pause_s = pause_s
        self.batches = 0

    def process(self, records: list[InRecord]) -> Batch:
        self.batches += 1
        if self.batches == 1:
            threading.Event().wait(self.pause_s)
        return super().process(records)


def test_a_batch_that_outlasts_the_poll_interval_does_not_end_the_job(
    live_settings: Settings,
) -> None:
    s = live_settings
    values = [f"slow{i}".encode() for i in range(10)]
    produce(
        s.kafka.bootstrap_servers,
        Topics(s.kafka.topic_prefix).tickets,
        [(None, v, []) for v in values],
    )
    stage = SlowFirstBatch(pause_s=2.5 * s.kafka.max_poll_interval_ms / 1000)
    run(s, stage)  # returns normally: the refused commit did not end the job
    assert stage.stats["commit_failed"] == 1
    assert set(stage.durable) == set(values)  # written before the commit was refused

    after = RecordingStage(fail_sink=False)
    run(s, after)
    assert after.seen == []  # and everything was committed in the end
