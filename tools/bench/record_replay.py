"""Speed of `record` and `replay --speed max` on the embedded broker, against baselines measured
in the same run: reading the same topics with a bare consumer, and producing the same records
from memory with the project's producer.

    .venv/bin/python tools/bench/record_replay.py [--frames 360] [--tickets 2000]

`record` adds the archive (index lines, one JPEG file per frame, fsync'd checkpoints) to the read;
`replay` adds reading and verifying the archive (every checksum, before the first send) to the
produce. `record` also waits 1.5 s at the end of each partition for records below the broker's
reported watermark (the dev broker under-reports it), a fixed cost that small runs feel most.
Prints a Markdown table; read the ratios.
"""

from __future__ import annotations

import argparse
import platform
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from citybrain.city_loading import load_all
from citybrain.config.kafka import BrokerSettings, KafkaSettings
from citybrain.core.messages import Ticket
from citybrain.replay.play import ReplayOptions, replay
from citybrain.replay.record import record
from citybrain.sim.stream import FrameRecord, TicketRecord, iter_records
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.inspect import read_topic
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(
    n_frames: int, n_tickets: int
) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    settings, city = load_all()
    frames: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
    tickets: list[Ticket] = []
    for r in iter_records(city, settings.simulator, datetime.now(UTC).replace(microsecond=0)):
        if isinstance(r, FrameRecord) and len(frames) < n_frames:
            frames.append(("frames", r.meta.camera_id.encode(), r.jpeg, r.meta.to_headers()))
        elif isinstance(r, TicketRecord):
            tickets.append(r.ticket)
        if len(frames) >= n_frames:
            break
    out = list(frames)
    for i in range(n_tickets):  # the scenario's tickets repeated under new ids
        t = tickets[i % len(tickets)].model_copy(update={"ticket_id": f"B-{i}"})
        out.append(("tickets", t.ticket_id.encode(), t.model_dump_json().encode(), []))
    return out


def produce(
    ks: KafkaSettings, items: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]
) -> float:
    topics = Topics(ks.topic_prefix)
    p = make_producer(ks)
    t0 = time.perf_counter()
    for topic, key, value, headers in items:
        p.send(getattr(topics, topic), key=key, value=value, headers=headers)
    p.flush()
    spent = time.perf_counter() - t0
    p.close()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=360, help="at most the scenario's frames")
    ap.add_argument("--tickets", type=int, default=2000)
    args = ap.parse_args()
    items = records(args.frames, args.tickets)
    mb = sum(len(v) for _, _, v, _ in items) / 1e6
    with (
        EmbeddedBroker(BrokerSettings(port=free_port())) as b,
        tempfile.TemporaryDirectory() as tmp,
    ):
        base = KafkaSettings(bootstrap_servers=b.bootstrap, partitions=3)
        src = base.model_copy(update={"topic_prefix": "benchsrc"})
        ensure_topics(src)
        t_produce = produce(src, items)
        time.sleep(1)
        t0 = time.perf_counter()
        n_read = sum(
            len(read_topic(src, getattr(Topics("benchsrc"), t))) for t in ("frames", "tickets")
        )
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = record(src, ["frames", "tickets"], Path(tmp) / "archive")
        t_record = time.perf_counter() - t0
        t0 = time.perf_counter()
        replay(
            Path(tmp) / "archive",
            base.model_copy(update={"topic_prefix": "benchdst"}),
            ReplayOptions(),
        )
        t_replay = time.perf_counter() - t0
    n = len(items)
    print(
        f"{n} records ({args.frames} frames, {args.tickets} tickets), {mb:.1f} MB; "
        f"{platform.machine()}, {platform.python_version()}; read {n_read}, recorded {m.records()}\n"
    )
    print("| step | seconds | records/s | MB/s | baseline | ratio |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    rows = [
        ("read (bare consumer)", t_read, None),
        ("record", t_record, ("read", t_read)),
        ("produce from memory", t_produce, None),
        ("replay --speed max", t_replay, ("produce", t_produce)),
    ]
    for name, t, basel in rows:
        ratio = f"{basel[1] / t:.2f}" if basel else ""
        print(
            f"| {name} | {t:.2f} | {n / t:.0f} | {mb / t:.1f} | {basel[0] if basel else ''} | {ratio} |"
        )


if __name__ == "__main__":
    main()
