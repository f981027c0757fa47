"""The consume → process → sink → produce → commit loop shared by every pipeline.

Offsets are committed only after the stage's durable sink has written and the producer has
flushed, so a crash at any point replays records rather than losing them; stages make the
replay harmless with deterministic ids. A record a stage rejects goes to the DLQ and the
partition moves on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition

from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord, Output, dead_letter

log = logging.getLogger(__name__)


@dataclass
class Batch:
    outputs: list[Output] = field(default_factory=list)
    rejected: list[tuple[InRecord, RejectedRecord]] = field(default_factory=list)
    # A stage that holds records across polls says how far each partition may be committed
    # ((topic, partition) -> next offset); None commits everything consumed so far.
    commit: dict[tuple[str, int], int] | None = None


class Stage(Protocol):
    name: str
    stats: Counter[str]

    def process(self, records: list[InRecord]) -> Batch: ...

    def sink(self) -> None:
        """Durably write what process() accumulated; runs before the commit."""

    def tick(self) -> Batch:
        """Time-driven work (e.g. resolving idle incidents) when no records arrive."""

    def on_assigned(self) -> None:
        """Partitions moved: reload any state kept for them."""


@runtime_checkable
class BackPressure(Protocol):
    """A stage that buffers records tells the worker when it is full; the worker then pauses
    its partitions (still polling, so the group keeps it) until the stage has drained."""

    def saturated(self) -> bool: ...

    def holding(self) -> int:
        """Records consumed but not yet finished; a batch job does not exit idle while any."""
        ...


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("%s: partitions revoked %s", self.stage.name, sorted(str(p) for p in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("%s: partitions assigned %s", self.stage.name, sorted(str(p) for p in assigned))
        self.stage.on_assigned()


class StreamWorker:
    def __init__(
        self,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        stage: Stage,
        topics: list[str],
        dlq_topic: str,
        dlq_max_bytes: int = 1024 * 1024,
        poll_timeout_ms: int = 500,
        report: Callable[[str, dict[str, int]], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.stage = stage
        self.dlq_topic = dlq_topic
        self.dlq_max_bytes = dlq_max_bytes
        self.poll_timeout_ms = poll_timeout_ms
        self.report = report
        self._next: dict[tuple[str, int], int] = {}  # next offset per partition, for lag
        consumer.subscribe(topics, listener=_Rebalance(stage))

    def run(
        self, stop: threading.Event, idle_exit_s: float | None = None, first_wait_s: float = 120.0
    ) -> None:
        """Loop until `stop` is set. Batch jobs pass idle_exit_s: stop once records have flowed
        and then nothing arrived for that long (or nothing at all within first_wait_s)."""
        last_data = time.monotonic()
        seen_data = False
        last_report = 0.0
        try:
            while not stop.is_set():
                self._throttle()
                polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms)
                records = [
                    InRecord.from_kafka(r)
                    for tp in sorted(polled, key=lambda t: (t.topic, t.partition))
                    for r in polled[tp]
                ]
                for r in records:
                    self._next[(r.topic, r.partition)] = r.offset + 1
                if records:
                    seen_data = True
                    self.stage.stats["consumed"] += len(records)
                    batch = self.stage.process(records)
                else:
                    batch = self.stage.tick()
                self._finish(batch, commit=bool(records))
                now = time.monotonic()
                if records:  # idle time counts from when the last batch was done, not fetched
                    last_data = now
                if self.report and now - last_report > 1.0:
                    self.stage.stats["lag"] = self._lag()
                    self.report(self.stage.name, dict(self.stage.stats))
                    last_report = now
                if (
                    idle_exit_s is not None
                    and now - last_data > (idle_exit_s if seen_data else first_wait_s)
                    and not self._busy()
                ):
                    break
        finally:
            if self.report:
                self.report(self.stage.name, dict(self.stage.stats))

    def _busy(self) -> bool:
        """Records held by the stage, or partitions paused for it: not idle, only waiting."""
        if not isinstance(self.stage, BackPressure):
            return False
        return bool(self.stage.holding() or self.consumer.paused())

    def _throttle(self) -> None:
        if not isinstance(self.stage, BackPressure):
            return
        if self.stage.saturated():
            running = self.consumer.assignment() - self.consumer.paused()
            if running:
                self.consumer.pause(*running)
                self.stage.stats["paused"] += 1
                log.info("%s: stage full, consumption paused", self.stage.name)
        elif self.consumer.paused():
            self.consumer.resume(*self.consumer.paused())
            log.info("%s: consumption resumed", self.stage.name)

    def _lag(self) -> int:
        """Records behind the partitions' high-water marks as of the last fetch, from what the
        consumer already knows (no network call in the loop)."""
        lag = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            nxt = self._next.get((tp.topic, tp.partition))
            if high is not None and nxt is not None:
                lag += max(0, high - nxt)
        return lag

    def _finish(self, batch: Batch, commit: bool) -> None:
        self.stage.sink()
        for out in batch.outputs:
            self.producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)
            self.stage.stats[f"out.{out.topic.rsplit('.', 1)[-1]}"] += 1
        for rec, err in batch.rejected:
            log.warning("%s: dead-letter %s: %s", self.stage.name, rec.ref, err)
            dead = dead_letter(rec, err, self.stage.name, self.dlq_topic, self.dlq_max_bytes)
            self.producer.send(dead.topic, key=dead.key, value=dead.value, headers=dead.headers)
            self.stage.stats["dlq"] += 1
            self.stage.stats[f"dlq.{err.reason}"] += 1
        if batch.outputs or batch.rejected:
            self.producer.flush()
        if batch.commit is not None:
            if batch.commit:
                self.consumer.commit(
                    {
                        TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                        for (t, p), o in batch.commit.items()
                    }
                )
        elif commit:
            self.consumer.commit()

    def close(self) -> None:
        try:
            self.producer.flush(10)
        finally:
            self.consumer.close()
            self.producer.close(5)
