"""Throughput of the ticket and vision jobs on the embedded broker, against a pass-through
baseline measured in the same run: the same worker loop, consumer and commits, no work.

    .venv/bin/python tools/bench/pipeline_throughput.py [--frames 600] [--tickets 3000]

Each stage is timed from its first record to the end of its last batch, so the consumer-group
join and the idle exit are not counted. Prints a Markdown table; absolute rates depend on the
machine, the ratio says what share of the raw consume-and-commit speed a stage keeps.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime

os.environ.setdefault("YOLO_CONFIG_DIR", "var/ultralytics")

from citybrain.city_loading import load_all
from citybrain.config import Settings
from citybrain.config.kafka import BrokerSettings
from citybrain.sim.stream import FrameRecord, TicketRecord, iter_records
from citybrain.store import Store
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.jobs import job_spec
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics, ensure_topics
from citybrain.streams.worker import StreamWorker


class PassThrough(Stage):
    """The baseline stage: the worker loop with no work in it."""

    name = "baseline"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        return Batch()


class Timed(Stage):
    """A stage wrapper timing from the first record to the end of the last batch."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.name = stage.name
        self.stats = stage.stats
        self.records = 0
        self.first: float | None = None
        self.last = 0.0

    def process(self, records: list[InRecord]) -> Batch:
        self.first = self.first or time.perf_counter()
        self.records += len(records)
        return self.stage.process(records)

    def sink(self) -> None:
        self.stage.sink()
        self.last = time.perf_counter()

    def tick(self) -> Batch:
        return self.stage.tick()

    def on_assigned(self) -> None:
        self.stage.on_assigned()

    @property
    def rate(self) -> float:
        assert self.first is not None
        return self.records / (self.last - self.first)


def measure(s: Settings, stage: Stage, topic: str, group: str, batch: int) -> Timed:
    timed = Timed(stage)
    worker = StreamWorker(
        make_consumer(s.kafka, group, batch),
        make_producer(s.kafka),
        timed,
        [topic],
        Topics(s.kafka.topic_prefix).dlq,
    )
    worker.run(threading.Event(), idle_exit_s=1.0, first_wait_s=60)
    worker.close()
    return timed


def fill(s: Settings, frames: int, tickets: int) -> None:
    """The simulator's frames, and its tickets repeated under new ids."""
    _, city = load_all()
    topics = Topics(s.kafka.topic_prefix)
    producer = make_producer(s.kafka)
    sim = s.simulator.model_copy(update={"duration_s": 10 * 3600, "frame_interval_s": 30})
    sent, templates = 0, []
    for rec in iter_records(city, sim, datetime.now(UTC)):
        if isinstance(rec, FrameRecord) and sent < frames:
            producer.send(
                topics.frames,
                key=rec.meta.camera_id.encode(),
                value=rec.jpeg,
                headers=rec.meta.to_headers(),
            )
            sent += 1
        elif isinstance(rec, TicketRecord):
            templates.append(rec.ticket)
        if sent >= frames and len(templates) >= 50:
            break
    for i in range(tickets):
        t = templates[i % len(templates)].model_copy(update={"ticket_id": f"B-{i}"})
        producer.send(topics.tickets, key=t.ticket_id.encode(), value=t.model_dump_json().encode())
    producer.flush()
    producer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--tickets", type=int, default=3000)
    args = ap.parse_args()
    settings, city = load_all()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.makedirs("var/bench", exist_ok=True)
    if os.path.exists("var/bench/store.db"):
        os.remove("var/bench/store.db")
    with EmbeddedBroker(BrokerSettings(port=port)) as b:
        s = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(
                    update={"bootstrap_servers": b.bootstrap, "topic_prefix": "bench"}
                ),
                "store": settings.store.model_copy(update={"url": "sqlite:///var/bench/store.db"}),
            }
        )
        ensure_topics(s.kafka)
        fill(s, args.frames, args.tickets)
        topics = Topics("bench")
        store = Store.open(s.store)
        rows = []
        for job, topic, n, batch in (
            ("tickets", topics.tickets, args.tickets, 200),
            ("vision", topics.frames, args.frames, s.vision.batch_size),
        ):
            base = measure(s, PassThrough(), topic, f"bench-base-{job}", batch)
            stage = job_spec(job).build(s, city, store, topics)
            run = measure(s, stage, topic, f"bench-{job}", batch)
            assert base.records == run.records == n, (job, base.records, run.records, n)
            assert run.stats.get("dlq", 0) == 0
            rows.append((job, n, run.rate, base.rate))
    v = s.vision
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; vision model {v.model} "
        f"imgsz {v.imgsz} batch {v.batch_size} on {v.device}\n"
    )
    print("| job | records | job records/s | pass-through records/s | job / pass-through |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for job, n, rate, base_rate in rows:
        print(f"| {job} | {n} | {rate:.1f} | {base_rate:.1f} | {rate / base_rate:.3f} |")


if __name__ == "__main__":
    main()
