"""Capture topics of a namespace into an archive, resumably.

The archive grows in `OUT.partial/`; the manifest there is the checkpoint (each partition's next
offset and the committed length of its index), so a rerun after an interruption truncates what
was written past the checkpoint and continues. Only a finished recording is renamed to `OUT`.

Time selection is by record timestamp. `offsets_for_times` gives a starting offset (brokers that
answer it loosely only cost extra reading, never wrong records: every record is also checked
against the window). A partition ends at its high watermark from when the recording began; as
some dev brokers under-report that watermark, reading goes on past it until the partition is
idle or a record beyond the window arrives.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citybrain.config.kafka import KafkaSettings
from citybrain.core.ticket_path import redacted_ticket_bytes
from citybrain.replay.archive import (
    FRAME_TOPICS,
    Manifest,
    PartitionState,
    TopicEntry,
    index_path,
    read_manifest,
    record_line,
    sha256_file,
    write_manifest,
)
from citybrain.replay.errors import ArchiveError, EmptySelection
from citybrain.streams.topics import Topics

log = logging.getLogger(__name__)
CHECKPOINT_S = 2.0
IDLE_END_S = 1.5  # a partition past its watermark with nothing new for this long is done


def topic_names(prefix: str, short: list[str]) -> dict[str, str]:
    """Short names (frames, tickets, ...) to topic names in the namespace."""
    t = Topics(prefix)
    known = {n.rsplit(".", 1)[-1]: n for n in t.all()}
    unknown = [s for s in short if s not in known]
    if unknown or not short:
        raise EmptySelection(f"unknown topics {unknown}; choose from {', '.join(known)}")
    return {s: known[s] for s in short}


def record(
    settings: KafkaSettings,
    topics: list[str],
    out: Path,
    from_ms: int | None = None,
    to_ms: int | None = None,
    max_records: int | None = None,
    stop: threading.Event | None = None,
    show_progress: bool = False,
    raw: bool = False,
) -> Manifest:
    """Record `topics` (short names) of settings.topic_prefix into `out`; returns the manifest.

    `max_records` bounds this call (the rest waits for a rerun); `stop` interrupts it cleanly.
    Ticket records are archived with their personal data replaced (the pipeline redacts them
    anyway, so a replay gives the same incidents) unless `raw`: an archive is a copy kept for
    long and passed around. Returns the manifest, complete or not.
    """
    out = Path(out)
    if out.exists():
        raise ArchiveError(f"{out} exists; choose a new folder (archives are never overwritten)")
    partial = out.with_name(out.name + ".partial")
    names = topic_names(settings.topic_prefix, topics)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_bytes=settings.max_request_bytes,
        max_partition_fetch_bytes=settings.max_request_bytes,
        max_poll_records=500,
    )
    try:
        if partial.exists():
            manifest = _resume(partial, settings.topic_prefix, names, from_ms, to_ms)
        else:
            manifest = _plan(consumer, settings.topic_prefix, names, from_ms, to_ms)
            manifest.redacted = not raw
            partial.mkdir(parents=True)
            write_manifest(partial, manifest)
        _Recorder(consumer, partial, manifest).run(max_records, stop, show_progress)
    finally:
        consumer.close()
    if manifest.complete:
        if manifest.records() == 0:
            shutil.rmtree(partial)
            raise EmptySelection(
                f"no records of {', '.join(names.values())} in the window "
                f"{_iso(from_ms)} .. {_iso(manifest.to_ms)}; nothing was written"
            )
        os.replace(partial, out)
    return manifest


def _iso(ms: int | None) -> str:
    return "beginning" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _plan(
    c: KafkaConsumer, prefix: str, names: dict[str, str], from_ms: int | None, to_ms: int | None
) -> Manifest:
    to = to_ms if to_ms is not None else int(time.time() * 1000)
    if from_ms is not None and from_ms >= to:
        raise EmptySelection(f"the window {_iso(from_ms)} .. {_iso(to)} is empty")
    entries: dict[str, TopicEntry] = {}
    for short, name in names.items():
        parts = sorted(c.partitions_for_topic(name) or ())
        if not parts:
            raise EmptySelection(f"topic {name} does not exist")
        tps = [TopicPartition(name, p) for p in parts]
        begin, end = c.beginning_offsets(tps), c.end_offsets(tps)
        start = dict(begin)
        if from_ms is not None:
            try:
                found_at = c.offsets_for_times(dict.fromkeys(tps, from_ms))
            except KafkaError as e:  # an old broker: read from the beginning, filter by time
                log.warning("offsets_for_times failed (%s); reading %s from the beginning", e, name)
                found_at = {}
            for tp, found in found_at.items():
                if found is not None and found.timestamp >= from_ms:
                    start[tp] = max(begin[tp], found.offset)
        entries[short] = TopicEntry(
            name=name,
            kind="frames" if short in FRAME_TOPICS else "records",
            partitions={
                tp.partition: PartitionState(
                    start_offset=start[tp],
                    end_offset=end[tp],
                    next_offset=start[tp],
                    index=index_path(short, tp.partition),
                )
                for tp in tps
            },
        )
    return Manifest(
        created_at=datetime.now(UTC),
        source_prefix=prefix,
        from_ms=from_ms,
        to_ms=to,
        topics=entries,
    )


def _resume(
    partial: Path, prefix: str, names: dict[str, str], from_ms: int | None, to_ms: int | None
) -> Manifest:
    m = read_manifest(partial)
    same = (
        m.source_prefix == prefix
        and set(m.topics) == set(names)
        and m.from_ms == from_ms
        and (to_ms is None or m.to_ms == to_ms)
    )
    if not same:
        raise ArchiveError(
            f"{partial} holds an interrupted recording of other topics or another window "
            f"({', '.join(m.topics)} of {m.source_prefix}, {_iso(m.from_ms)} .. {_iso(m.to_ms)});"
            " rerun with the same options, or delete it"
        )
    log.info("resuming %s: %d records already recorded", partial, m.records())
    return m


class _Recorder:
    def __init__(self, consumer: KafkaConsumer, root: Path, manifest: Manifest) -> None:
        self.c = consumer
        self.root = root
        self.m = manifest
        self.files: dict[tuple[str, int], IO[bytes]] = {}
        self.short_of = {e.name: s for s, e in manifest.topics.items()}

    def run(self, max_records: int | None, stop: threading.Event | None, show: bool) -> None:
        todo = {
            TopicPartition(e.name, p): st
            for e in self.m.topics.values()
            for p, st in e.partitions.items()
            if not st.done
        }
        if todo:
            self._open_files()
            self.c.assign(list(todo))
            for tp, st in todo.items():
                self.c.seek(tp, st.next_offset)
        total = sum(max(0, st.end_offset - st.start_offset) for st in todo.values())
        done0 = sum(max(0, st.next_offset - st.start_offset) for st in todo.values())
        written = 0
        last_cp = time.monotonic()
        idle_since = {tp: time.monotonic() for tp in todo}
        progress = Progress(
            TextColumn("recording"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not show,
        )
        try:
            with progress:
                bar = progress.add_task("recording", total=total or None, completed=done0)
                while todo and not (stop is not None and stop.is_set()):
                    if max_records is not None and written >= max_records:
                        break
                    polled = self.c.poll(timeout_ms=300)
                    now = time.monotonic()
                    for tp, recs in polled.items():
                        if tp not in todo:
                            continue
                        st = todo[tp]
                        idle_since[tp] = now
                        for r in recs:
                            if r.offset < st.next_offset:
                                continue
                            if max_records is not None and written >= max_records:
                                break
                            st.next_offset = r.offset + 1
                            progress.advance(bar)
                            if r.timestamp >= self.m.to_ms and r.offset >= st.end_offset:
                                st.done = True
                                break
                            if self._in_window(r.timestamp):
                                self._write(tp, st, r)
                                written += 1
                    for tp, pst in list(todo.items()):
                        past_end = self.c.position(tp) >= pst.end_offset
                        if pst.done or (past_end and now - idle_since[tp] > IDLE_END_S):
                            pst.done = True
                            self.c.pause(tp)
                            del todo[tp]
                    if now - last_cp > CHECKPOINT_S:
                        self._checkpoint()
                        last_cp = now
        finally:
            self._checkpoint()
            self._close_files()
        if not todo:
            self._complete()

    def _in_window(self, ts: int) -> bool:
        return (self.m.from_ms is None or ts >= self.m.from_ms) and ts < self.m.to_ms

    def _open_files(self) -> None:
        for short, e in self.m.topics.items():
            for p, st in e.partitions.items():
                path = self.root / st.index
                path.parent.mkdir(parents=True, exist_ok=True)
                f = path.open("ab")
                f.truncate(st.index_bytes)  # drop lines written after the last checkpoint
                f.seek(st.index_bytes)
                self.files[(short, p)] = f

    def _write(self, tp: TopicPartition, st: PartitionState, r: Any) -> None:
        short = self.short_of[tp.topic]
        value = r.value if r.value is not None else b""
        if short == "tickets" and self.m.redacted:
            value = redacted_ticket_bytes(value)
        line = record_line(
            short, tp.partition, r.offset, r.timestamp, r.key, value, list(r.headers or [])
        )
        if "file" in line:
            fpath = self.root / line["file"]
            fpath.parent.mkdir(parents=True, exist_ok=True)
            fpath.write_bytes(value)
        self.files[(short, tp.partition)].write(
            json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        )
        st.records += 1
        st.first_ts_ms = r.timestamp if st.first_ts_ms is None else min(st.first_ts_ms, r.timestamp)
        st.last_ts_ms = r.timestamp if st.last_ts_ms is None else max(st.last_ts_ms, r.timestamp)

    def _checkpoint(self) -> None:
        """Indexes on disk first, then the manifest that declares their length."""
        for (short, p), f in self.files.items():
            f.flush()
            os.fsync(f.fileno())
            self.m.topics[short].partitions[p].index_bytes = f.tell()
        write_manifest(self.root, self.m)

    def _close_files(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()

    def _complete(self) -> None:
        for e in self.m.topics.values():
            for st in e.partitions.values():
                path = self.root / st.index
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                st.index_bytes = path.stat().st_size
                st.sha256 = sha256_file(path)
        self.m.complete = True
        self.m.completed_at = datetime.now(UTC)
        write_manifest(self.root, self.m)
