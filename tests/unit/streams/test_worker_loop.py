"""The worker loop over the in-memory consumer and producer (streams/testing.py): what it
commits, dead-letters, pauses and counts, with small stages that use only the Stage hooks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from kafka.structs import TopicPartition

from citybrain.errors import RejectedRecord
from citybrain.store import Store
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.testing import (
    FakeConsumer,
    FakeProducer,
    Incoming,
    StageHarness,
    run_stage,
)
from citybrain.streams.worker import StreamWorker


class Echo(Stage):
    """Sends each record on to `t.out`; a record whose value is `bad` is rejected."""

    name = "echo"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.sinks = 0

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        for r in records:
            if r.value == b"bad":
                batch.rejected.append((r, RejectedRecord("bad_value", "it said so")))
            else:
                batch.outputs.append(Output("t.out", r.value, r.key))
        return batch

    def sink(self) -> None:
        self.sinks += 1


class Holding(Stage):
    """Keeps records until told to let them go; full at `room` records."""

    name = "holding"

    def __init__(self, room: int) -> None:
        self.stats: Counter[str] = Counter()
        self.room = room
        self.held: list[InRecord] = []
        self.released: list[bytes] = []
        self.let_go = False
        self.next_offset = 0

    def process(self, records: list[InRecord]) -> Batch:
        self.held += records
        self.next_offset = records[-1].offset + 1
        return self._release()

    def tick(self) -> Batch:
        return self._release()

    def _release(self) -> Batch:
        """Commit up to the oldest record held, or past the newest when none is."""
        if self.let_go:
            self.released += [r.value for r in self.held]
            self.held = []
        point = self.held[0].offset if self.held else self.next_offset
        return Batch(commit={("t.in", 0): point})

    def saturated(self) -> bool:
        return len(self.held) >= self.room

    def holding(self) -> int:
        return len(self.held)


def test_outputs_dead_letters_and_the_commit_of_one_batch() -> None:
    stage = Echo()
    run = run_stage(stage, [Incoming("t.in", v, b"k") for v in (b"a", b"bad", b"c")])
    assert [o.value for o in run.outputs] == [b"a", b"c"]
    assert run.reasons() == ["bad_value"]
    letter = dict(run.dead_letters[0].headers)
    assert letter["dlq.source_offset"] == b"1" and letter["dlq.stage"] == b"echo"
    assert run.commits == [{("t.in", 0): 3}] and stage.sinks == 1
    assert stage.stats["consumed"] == 3 and stage.stats["out.out"] == 2
    assert stage.stats["dlq"] == stage.stats["dlq.bad_value"] == 1


def test_ticks_run_only_when_asked_and_commit_nothing() -> None:
    stage = Echo()
    h = StageHarness(stage)
    h.run([Incoming("t.in", b"a")])
    run = h.run(ticks=2)
    assert run.outputs == [] and run.commits == [] and stage.sinks == 3


def test_a_full_stage_pauses_consumption_until_it_drains() -> None:
    stage = Holding(room=2)
    h = StageHarness(stage, max_poll_records=2)
    run = h.run([Incoming("t.in", f"r{i}".encode()) for i in range(4)], ticks=1)
    assert len(stage.held) == 2 and stage.stats["paused"] >= 1  # the other two wait in Kafka
    assert run.commits[-1] == {("t.in", 0): 0}  # the commit point stays at the oldest held
    assert h.consumer.paused()
    stage.let_go = True
    h.run(ticks=2)  # a tick lets the held go, the rest is consumed, then one more tick
    assert stage.released == [b"r0", b"r1", b"r2", b"r3"] and not h.consumer.paused()
    assert h.consumer.committed(TopicPartition("t.in", 0)) == 4


def test_a_record_over_the_producers_limit_is_dead_lettered_not_lost() -> None:
    stage = Echo()
    h = StageHarness(stage, max_request_bytes=2048)
    run = h.run([Incoming("t.in", b"x" * 4096), Incoming("t.in", b"y")])
    assert [o.value for o in run.outputs] == [b"y"]
    assert run.reasons() == ["record_too_large"] and len(run.dead_letters[0].value) < 2048
    assert stage.stats["dlq.record_too_large"] == 1 and run.commits == [{("t.in", 0): 2}]


def test_the_counters_reported_are_the_stages() -> None:
    stage = Echo()
    h = StageHarness(stage)
    h.run([Incoming("t.in", b"a")])
    assert h.reports[-1]["consumed"] == 1 and h.reports[-1]["out.out"] == 1


def test_a_stage_must_say_how_it_processes() -> None:
    with pytest.raises(TypeError):
        Stage()  # type: ignore[abstract]


class WritesAtClose(Stage):
    """Like the dispatch job's summary worker: a thread of the stage writes a message into the
    job's outbox (a real one, on SQLite) up to the moment the stage is closed."""

    name = "closing"

    def __init__(self, store: Store) -> None:
        self.stats: Counter[str] = Counter()
        self.store = store
        self.outbox = store.outbox(self.name)

    def process(self, records: list[InRecord]) -> Batch:
        return Batch()

    def close(self) -> None:
        with self.store.sessions.begin() as s:
            self.outbox.write(s, [Output("t.out", b"last words", b"k")])


def test_what_the_stages_threads_wrote_last_is_sent_at_shutdown(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    stage = WritesAtClose(store)
    producer = FakeProducer()
    worker = StreamWorker(FakeConsumer(), producer, stage, ["t.in"], "t.dlq")
    stage.close()
    worker.send_outbox()
    assert [(o.topic, o.value) for o in producer.sent] == [("t.out", b"last words")]
    assert stage.outbox.take() == []  # marked sent: the next start does not send it again


class Busy(Echo):
    """Echo whose every batch takes `cost_s` of the harness's clock, and counts its ticks."""

    def __init__(self, clock: list[float], cost_s: float) -> None:
        super().__init__()
        self.clock, self.cost_s, self.ticks = clock, cost_s, 0

    def process(self, records: list[InRecord]) -> Batch:
        self.clock[0] += self.cost_s
        return super().process(records)

    def tick(self) -> Batch:
        self.ticks += 1
        return Batch()


def test_ticks_run_on_their_time_budget_under_continuous_input() -> None:
    """A city's input never leaves a poll empty: expiry, hot-spot closing and digests (all in
    tick) must still run, every `tick_every_s` of processing."""
    now = [0.0]
    stage = Busy(now, cost_s=1.0)
    h = StageHarness(stage, max_poll_records=1, tick_every_s=5.0, clock=lambda: now[0])
    run = h.run([Incoming("t.in", f"r{i}".encode()) for i in range(50)])  # never an empty poll
    assert len(run.outputs) == 50
    assert stage.ticks == 10  # 50 s of batches, one tick per 5 s
    assert h.consumer.committed(TopicPartition("t.in", 0)) == 50
