"""Produce an archive into a topic namespace, keeping per-key order and relative timing.

Per-key order: each archived partition is read in offset order and the partitions are merged by
record timestamp (heapq.merge never reorders one input), and every record keeps its key, so the
producer's partitioner sends a key's records to one partition in their original order.

Timing: the gaps between record timestamps are reproduced divided by `speed` (None: as fast as
possible). With `shift_to_now` every time in the records moves by the same amount (frame
`ts_ms` headers, ticket `received_at`, the Kafka timestamp) so the archive's first record happens
now; each loop pass after the first moves by one more archive span and renames what must be unique
(ticket ids get a `~N` suffix, frame `seq` numbers continue) so the pipelines see new evidence.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citybrain.config.kafka import KafkaSettings
from citybrain.replay.archive import ArchivedRecord, Manifest, iter_partition, open_archive
from citybrain.replay.errors import EmptySelection, NamespaceNotEmpty
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayOptions:
    speed: float | None = None  # None: as fast as possible
    loops: int = 1  # 0: until stopped
    shift_to_now: bool = False
    cameras: frozenset[str] | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    force: bool = False


@dataclass
class ReplayResult:
    produced: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    shift_ms: int = 0


def parse_speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = -1.0
    if speed <= 0:
        raise ValueError(f"speed must be a positive number or 'max', not {text!r}")
    return speed


def namespace_has_data(settings: KafkaSettings) -> list[str]:
    """Topics of the namespace that hold any record."""
    c = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        busy = []
        existing = c.topics()
        for name in Topics(settings.topic_prefix).all():
            if name not in existing:
                continue
            tps = [TopicPartition(name, p) for p in sorted(c.partitions_for_topic(name) or ())]
            begin, end = c.beginning_offsets(tps), c.end_offsets(tps)
            if any(end[tp] > begin[tp] for tp in tps):
                busy.append(name)
        return busy
    finally:
        c.close()


def selected(root: Path, m: Manifest, opts: ReplayOptions) -> Iterator[ArchivedRecord]:
    """The archive's records in timestamp order (stable per partition), filtered by options."""
    streams = [
        iter_partition(root, short, p, st, check_frames=False)
        for short, e in sorted(m.topics.items())
        for p, st in sorted(e.partitions.items())
    ]
    for r in heapq.merge(*streams, key=lambda r: r.ts_ms):
        if opts.from_ms is not None and r.ts_ms < opts.from_ms:
            continue
        if opts.to_ms is not None and r.ts_ms >= opts.to_ms:
            continue
        if opts.cameras is not None and r.topic == "frames" and _camera(r) not in opts.cameras:
            continue
        yield r


def _camera(r: ArchivedRecord) -> str:
    for k, v in r.headers:
        if k == "camera_id":
            return v.decode("utf-8", "replace")
    return (r.key or b"").decode("utf-8", "replace")


def replay(
    archive: Path,
    settings: KafkaSettings,
    opts: ReplayOptions,
    stop: threading.Event | None = None,
    show_progress: bool = False,
) -> ReplayResult:
    """Verify the whole archive, check the target namespace, then produce."""
    archive = Path(archive)
    m = open_archive(archive, verify=True)
    first = last = None
    max_seq = -1
    count = 0
    for r in selected(archive, m, opts):
        first = r.ts_ms if first is None else first
        last = max(last or r.ts_ms, r.ts_ms)
        max_seq = max(max_seq, _seq(r))
        count += 1
    if first is None or last is None:
        raise EmptySelection("no archived records match the chosen window and cameras")
    busy = namespace_has_data(settings)
    if busy and not opts.force:
        raise NamespaceNotEmpty(
            f"namespace {settings.topic_prefix!r} already has data in {', '.join(busy)}; "
            "choose a fresh --prefix or pass --force"
        )
    ensure_topics(settings)
    topics = Topics(settings.topic_prefix)
    producer = make_producer(settings)
    span = last - first + 1000
    base_shift = int(time.time() * 1000) - first if opts.shift_to_now else 0
    result = ReplayResult(shift_ms=base_shift)
    started = time.monotonic()
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    )
    try:
        with progress:
            bar = progress.add_task("replay", total=count * opts.loops if opts.loops else None)
            n = 0
            while opts.loops == 0 or n < opts.loops:
                shift = base_shift + n * span if (opts.shift_to_now or n) else 0
                for r in selected(archive, m, opts):
                    if stop is not None and stop.is_set():
                        return result
                    if opts.speed is not None:
                        due = started + ((n * span) + r.ts_ms - first) / 1000 / opts.speed
                        wait = due - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                    key, value, headers = _rewrite(r, shift, n, max_seq + 1)
                    producer.send(
                        getattr(topics, r.topic),
                        key=key,
                        value=value,
                        headers=headers,
                        timestamp_ms=r.ts_ms + shift if opts.shift_to_now else None,
                    )
                    result.produced[r.topic] = result.produced.get(r.topic, 0) + 1
                    progress.advance(bar)
                producer.flush()
                n += 1
                result.passes = n
    finally:
        producer.flush()
        producer.close(10)
    return result


def _seq(r: ArchivedRecord) -> int:
    if r.topic != "frames":
        return -1
    for k, v in r.headers:
        if k == "seq":
            try:
                return int(v)
            except ValueError:
                return -1
    return -1


def _rewrite(
    r: ArchivedRecord, shift_ms: int, loop: int, seq_stride: int
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The record as produced in pass `loop`, its times moved by shift_ms. Records that cannot be
    parsed (a broken ticket, a frame without headers) go out unchanged: the pipelines must still
    see and dead-letter them."""
    if not shift_ms and not loop:
        return r.key, r.value, r.headers
    if r.topic == "frames":
        headers = []
        for k, v in r.headers:
            try:
                if k == "ts_ms" and shift_ms:
                    v = str(int(v) + shift_ms).encode()
                elif k == "seq" and loop:
                    v = str(int(v) + loop * seq_stride).encode()
            except ValueError:
                pass
            headers.append((k, v))
        return r.key, r.value, headers
    if r.topic == "tickets":
        try:
            ticket = json.loads(r.value)
        except ValueError:
            return r.key, r.value, r.headers
        if not isinstance(ticket, dict):
            return r.key, r.value, r.headers
        key = r.key
        if shift_ms and isinstance(ticket.get("received_at"), str):
            try:
                at = datetime.fromisoformat(ticket["received_at"].replace("Z", "+00:00"))
                ticket["received_at"] = (at + timedelta(milliseconds=shift_ms)).isoformat()
            except ValueError:
                pass
        if loop and isinstance(ticket.get("ticket_id"), str):
            ticket["ticket_id"] = f"{ticket['ticket_id']}~{loop}"
            key = ticket["ticket_id"].encode()
        return key, json.dumps(ticket, ensure_ascii=False).encode("utf-8"), r.headers
    return r.key, r.value, r.headers


def window_ms(text: str | None) -> int | None:
    """An ISO-8601 time (naive means UTC) as epoch milliseconds."""
    if text is None:
        return None
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)
