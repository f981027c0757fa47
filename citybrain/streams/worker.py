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
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer

from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord, Output, dead_letter

log = logging.getLogger(__name__)


@dataclass
class Batch:
    outputs: list[Output] = field(default_factory=list)
    rejected: list[tuple[InRecord, RejectedRecord]] = field(default_factory=list)


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
                polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms)
                records = [
                    InRecord.from_kafka(r)
                    for tp in sorted(polled, key=lambda t: (t.topic, t.partition))
                    for r in polled[tp]
                ]
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
                    self.report(self.stage.name, dict(self.stage.stats))
                    last_report = now
                if idle_exit_s is not None and now - last_data > (
                    idle_exit_s if seen_data else first_wait_s
                ):
                    break
        finally:
            if self.report:
                self.report(self.stage.name, dict(self.stage.stats))

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
        if commit:
            self.consumer.commit()

    def close(self) -> None:
        try:
            self.producer.flush(10)
        finally:
            self.consumer.close()
            self.producer.close(5)
