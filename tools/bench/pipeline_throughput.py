"""Throughput of the ticket and vision jobs on the embedded broker, against a pass-through
baseline measured in the same run (consume + commit through the same worker loop, no work).

    .venv/bin/python tools/bench/pipeline_throughput.py [--frames 600] [--tickets 3000]

Prints a Markdown table: records/s of each job and of the baseline, and their ratio. Absolute
numbers depend on the machine; the ratio says what share of raw Kafka speed the stage keeps.
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

from citybrain.config import Settings, load_all
from citybrain.config.kafka import BrokerSettings
from citybrain.runtime import run_job
from citybrain.sim.stream import FrameRecord, TicketRecord, iter_records
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics, ensure_topics
from citybrain.streams.worker import Batch, StreamWorker


class PassThrough:
    """The baseline stage: the worker loop with no work in it."""

    name = "baseline"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        self.stats["records"] += len(records)
        return Batch()

    def sink(self) -> None:
        pass

    def tick(self) -> Batch:
        return Batch()

    def on_assigned(self) -> None:
        pass


def timed(fn: object) -> tuple[dict[str, int], float]:
    t0 = time.perf_counter()
    out = fn()  # type: ignore[operator]
    return out, time.perf_counter() - t0


def baseline(s: Settings, topic: str, job: str, batch: int) -> tuple[int, float]:
    stage = PassThrough()
    worker = StreamWorker(
        make_consumer(s.kafka, f"bench-{job}", batch), make_producer(s.kafka), stage, [topic],
        Topics(s.kafka.topic_prefix).dlq,
    )
    t0 = time.perf_counter()
    worker.run(threading.Event(), idle_exit_s=1.0, first_wait_s=30)
    worker.close()
    return stage.stats["records"], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--tickets", type=int, default=3000)
    args = ap.parse_args()
    settings, city = load_all()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with EmbeddedBroker(BrokerSettings(port=port)) as b:
        s = settings.model_copy(update={
            "kafka": settings.kafka.model_copy(update={"bootstrap_servers": b.bootstrap, "topic_prefix": "bench"}),
            "store": settings.store.model_copy(update={"url": "sqlite:///var/bench/store.db"}),
        })
        ensure_topics(s.kafka)
        topics = Topics("bench")
        producer = make_producer(s.kafka)
        frames = tickets = 0
        sim = s.simulator.model_copy(update={"duration_s": 10 * 3600, "frame_interval_s": 30})
        templates = []
        for rec in iter_records(city, sim, datetime.now(UTC)):
            if isinstance(rec, FrameRecord) and frames < args.frames:
                producer.send(topics.frames, key=rec.meta.camera_id.encode(), value=rec.jpeg, headers=rec.meta.to_headers())
                frames += 1
            elif isinstance(rec, TicketRecord):
                templates.append(rec.ticket)
            if frames >= args.frames and len(templates) >= 50:
                break
        for i in range(args.tickets):  # the simulator's tickets, repeated under new ids
            t = templates[i % len(templates)].model_copy(update={"ticket_id": f"B-{i}"})
            producer.send(topics.tickets, key=t.ticket_id.encode(), value=t.model_dump_json().encode())
            tickets += 1
        producer.flush()

        rows = []
        for job, topic, n, batch in (("tickets", topics.tickets, tickets, 200), ("vision", topics.frames, frames, s.vision.batch_size)):
            base_n, base_t = baseline(s, topic, job, batch)
            counters, t = timed(lambda job=job: run_job(job, s, stop=threading.Event(), idle_exit_s=1.0, first_wait_s=60))
            done = counters.get("frames" if job == "vision" else "tickets", 0)
            assert base_n == n and done == n, (job, base_n, done, n)
            # Both runs include one group join and the 1 s idle exit; subtract neither, so the
            # ratio is conservative for small inputs.
            rows.append((job, n, n / t, n / base_t))
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"vision model {s.vision.model} imgsz {s.vision.imgsz} batch {s.vision.batch_size} on {s.vision.device}\n")
    print("| job | records | job records/s | pass-through records/s | job / pass-through |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for job, n, rate, base in rows:
        print(f"| {job} | {n} | {rate:.1f} | {base:.1f} | {rate / base:.3f} |")


if __name__ == "__main__":
    main()
