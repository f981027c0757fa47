"""Stage tests without a broker: an in-memory consumer and producer under the real worker loop.

A unit test of a stage's logic runs it through `StreamWorker` (worker.py) itself, so what it
checks is what the job does: poll, process, sink, the outbox and the outputs sent, dead letters
with their headers, counters, and the offsets committed. Only Kafka is replaced, and only by
what the loop uses of it: per-partition logs with offsets, positions, pause and resume, commits,
and rebalances on demand. Integration tests keep talking to the real embedded broker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener
from kafka.errors import MessageSizeTooLargeError
from kafka.structs import OffsetAndMetadata, TopicPartition

from citybrain.streams.records import Output
from citybrain.streams.send import record_size
from citybrain.streams.stage import Stage
from citybrain.streams.worker import StreamWorker

Offsets = dict[tuple[str, int], int]


@dataclass(frozen=True)
class Incoming:
    """A record as it arrives on one of the stage's input topics; its offset is its place in
    the partition's log, given when it is appended."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    partition: int = 0


@dataclass(frozen=True)
class _Consumed:
    """The fields of kafka-python's ConsumerRecord that `InRecord.from_kafka` reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class FakeConsumer:
    """Per-partition logs, consumed in order from each partition's position. Partitions are
    assigned as records arrive for them, without calling the listener: the stage's constructor
    has loaded its state as the job's build does. `rebalance()` takes every partition away and
    gives it back at the next poll, as a group rebalance does: the listener hears both, the
    positions go back to the committed offsets (the start where none), and that poll returns
    nothing (the client fetches the committed offsets first); the next one reads on."""

    def __init__(self, max_poll_records: int = 500) -> None:
        self.max_poll_records = max_poll_records
        self.logs: dict[TopicPartition, list[_Consumed]] = {}
        self.positions: dict[TopicPartition, int] = {}
        self.commits: list[Offsets] = []
        self._committed: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._listener: ConsumerRebalanceListener | None = None
        self._rebalance = False
        self.after_poll: Callable[[bool], None] | None = None  # told if a poll found records

    def append(self, rec: Incoming) -> int:
        """Add a record to its partition's log; returns its offset."""
        tp = TopicPartition(rec.topic, rec.partition)
        log = self.logs.setdefault(tp, [])
        self.positions.setdefault(tp, 0)
        log.append(
            _Consumed(
                rec.topic, rec.partition, len(log), rec.key, rec.value, list(rec.headers.items())
            )
        )
        return len(log) - 1

    def rebalance(self) -> None:
        self._rebalance = True

    def waiting(self) -> int:
        """Records not yet consumed from partitions that are not paused."""
        return sum(
            len(self.logs[tp]) - self.positions[tp]
            for tp in self.assignment()
            if tp not in self._paused
        )

    # --- what StreamWorker calls ---
    def subscribe(self, topics: Iterable[str], listener: ConsumerRebalanceListener) -> None:
        """Every partition records are appended to is this consumer's, whatever the topics."""
        self._listener = listener

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[_Consumed]]:
        """At once, never waiting `timeout_ms`: up to max_poll_records from unpaused partitions."""
        got: dict[TopicPartition, list[_Consumed]] = {}
        if self._rebalance:
            self._rebalance = False
            self._move_partitions()
            if self.after_poll is not None:
                self.after_poll(False)
            return got
        room = self.max_poll_records
        for tp in sorted(self.assignment() - self._paused):
            pos = self.positions[tp]
            taken = self.logs[tp][pos : pos + room]
            if taken:
                got[tp] = taken
                self.positions[tp] = pos + len(taken)
                room -= len(taken)
        if self.after_poll is not None:
            self.after_poll(bool(got))
        return got

    def _move_partitions(self) -> None:
        if self._listener is not None:
            self._listener.on_partitions_revoked(self.assignment())
        self._paused.clear()
        for tp in self.positions:
            self.positions[tp] = self._committed.get(tp, 0)
        if self._listener is not None:
            self._listener.on_partitions_assigned(self.assignment())

    def assignment(self) -> set[TopicPartition]:
        return set(self.logs)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused -= set(tps)

    def committed(self, tp: TopicPartition) -> int | None:
        return self._committed.get(tp)

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.logs if tp.topic == topic}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.positions[tp] = 0

    def highwater(self, tp: TopicPartition) -> int | None:
        return len(self.logs[tp]) if tp in self.logs else None

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        """Without offsets, what was consumed so far (as kafka-python commits)."""
        done = (
            {tp: meta.offset for tp, meta in offsets.items()}
            if offsets is not None
            else {tp: pos for tp, pos in self.positions.items() if pos > 0}
        )
        self._committed.update(done)
        self.commits.append({(tp.topic, tp.partition): o for tp, o in done.items()})

    def close(self) -> None:
        pass


class _Ack:
    """A delivery result that succeeded: the parts of kafka's future CheckedSender reads."""

    is_done = True
    exception: BaseException | None = None

    def failed(self) -> bool:
        return False

    def get(self, timeout: float | None = None) -> None:
        return None


class FakeProducer:
    """Keeps every record sent, in order. A record over `max_request_bytes` is refused at the
    send, as the client refuses one over its `max_request_size`."""

    def __init__(self, max_request_bytes: int | None = None) -> None:
        self.max_request_bytes = max_request_bytes
        self.sent: list[Output] = []

    def send(
        self,
        topic: str,
        key: bytes | None = None,
        value: bytes = b"",
        headers: list[tuple[str, bytes]] | None = None,
    ) -> _Ack:
        out = Output(topic=topic, value=value, key=key, headers=list(headers or []))
        if self.max_request_bytes is not None and record_size(out) > self.max_request_bytes:
            raise MessageSizeTooLargeError(f"{record_size(out)} bytes")
        self.sent.append(out)
        return _Ack()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


@dataclass(frozen=True)
class StageRun:
    """What one run of the loop did: records sent (other than to the DLQ), dead letters, and
    every commit's offsets ((topic, partition) -> next offset), in order."""

    outputs: list[Output]
    dead_letters: list[Output]
    commits: list[Offsets]

    def reasons(self) -> list[str]:
        """The `dlq.reason` of each dead letter."""
        return [dict(d.headers)["dlq.reason"].decode() for d in self.dead_letters]


class StageHarness:
    """One stage under the real worker loop, fed in steps: the consumer keeps its logs,
    positions and commits between runs, as one worker's would."""

    def __init__(
        self,
        stage: Stage,
        dlq_topic: str = "t.dlq",  # the unit tests' namespace, Topics("t")
        max_poll_records: int = 500,
        dlq_max_bytes: int = 1024 * 1024,
        max_request_bytes: int | None = None,
        tick_every_s: float = 1.0,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`clock` is the worker's clock for its tick budget: frozen by default, so only the
        polls that find nothing tick and a test decides how many there are; a test of the
        budget itself passes a clock its stage moves on."""
        self.stage = stage
        self.tick_every_s = tick_every_s
        self.clock = clock
        self.consumer = FakeConsumer(max_poll_records)
        self.producer = FakeProducer(max_request_bytes)
        self.dlq_topic = dlq_topic
        self.dlq_max_bytes = dlq_max_bytes
        self.reports: list[dict[str, int]] = []  # the counters as the job writes them
        self.worker = self._worker(stage)

    def _worker(self, stage: Stage) -> StreamWorker:
        return StreamWorker(
            self.consumer,
            self.producer,
            stage,
            topics=[],  # the fake consumer holds only the stage's input
            dlq_topic=self.dlq_topic,
            dlq_max_bytes=self.dlq_max_bytes,
            report=lambda _name, counters: self.reports.append(counters),
            tick_every_s=self.tick_every_s,
            clock=self.clock,
        )

    def rebalance(self) -> None:
        """Partitions move at the next poll: the stage's on_assigned() runs there."""
        self.consumer.rebalance()

    def restart(self, stage: Stage) -> None:
        """The job's process died and a new one starts: `stage` (built afresh) under a new
        worker, over the same logs and commits; its partitions are assigned at the next poll,
        from the committed offsets."""
        self.stage = stage
        self.worker = self._worker(stage)
        self.consumer.rebalance()

    def run(self, records: Iterable[Incoming] = (), ticks: int = 0) -> StageRun:
        """Append `records` and poll until nothing is left to consume from the partitions not
        paused, with at least `ticks` polls that found nothing (each calls the stage's tick();
        a paused partition's poll finds nothing). At least one poll runs; the worker's errors
        come out of here as the job would meet them."""
        for rec in records:
            self.consumer.append(rec)
        sent, committed = len(self.producer.sent), len(self.consumer.commits)
        stop = threading.Event()
        idle = 0

        def stop_when_done(found: bool) -> None:
            nonlocal idle
            idle += not found
            if not self.consumer.waiting() and idle >= ticks:
                stop.set()  # the loop finishes this poll's batch, then returns

        self.consumer.after_poll = stop_when_done
        try:
            self.worker.run(stop)
        finally:
            self.consumer.after_poll = None
        new = self.producer.sent[sent:]
        return StageRun(
            outputs=[o for o in new if o.topic != self.dlq_topic],
            dead_letters=[o for o in new if o.topic == self.dlq_topic],
            commits=self.consumer.commits[committed:],
        )


def run_stage(stage: Stage, records: Iterable[Incoming], ticks: int = 0) -> StageRun:
    """One batch of records through a stage under the real worker loop."""
    return StageHarness(stage).run(records, ticks)
