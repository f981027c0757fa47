"""The archive format (docs/ARCHIVE.md): a manifest, one JSON-lines index per topic partition,
and frames as JPEG files beside their index. Everything here is file I/O; no Kafka.

Integrity is a chain: the manifest holds the SHA-256 of every index file, and every frame line of
an index holds the SHA-256 of its JPEG, so one manifest check covers every byte of the archive.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citybrain.replay.errors import ArchiveError

FORMAT = "citybrain-archive"
VERSION = 1
MANIFEST = "manifest.json"
FRAME_TOPICS = ("frames",)  # topics whose values are JPEG files, not JSON lines


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartitionState(_Model):
    """Where one partition stands; `next_offset` and `index_bytes` make a rerun resume."""

    start_offset: int = Field(title="First offset considered (from the time window)")
    end_offset: int = Field(title="High watermark when the recording began")
    next_offset: int = Field(title="Next offset to read; everything before it is recorded")
    records: int = Field(0, title="Records written to the index")
    first_ts_ms: int | None = Field(None, title="Smallest record timestamp written")
    last_ts_ms: int | None = Field(None, title="Largest record timestamp written")
    index: str = Field(title="Index file, relative to the archive root")
    index_bytes: int = Field(0, title="Committed length of the index file")
    sha256: str | None = Field(None, title="SHA-256 of the index file, set on completion")
    done: bool = Field(False, title="The partition reached the end of the window")


class TopicEntry(_Model):
    name: str = Field(title="Source topic name (with its namespace prefix)")
    kind: str = Field(title="'frames' (JPEG files) or 'records' (values inline)")
    partitions: dict[int, PartitionState]


class Manifest(_Model):
    format: str = FORMAT
    version: int = VERSION
    complete: bool = False
    created_at: datetime
    completed_at: datetime | None = None
    source_prefix: str = Field(title="Namespace the topics were recorded from")
    from_ms: int | None = Field(None, title="Window start (record timestamp, inclusive)")
    to_ms: int = Field(title="Window end (record timestamp, exclusive)")
    topics: dict[str, TopicEntry]
    redacted: bool = Field(
        False, title="Ticket records were recorded with their personal data replaced"
    )

    def records(self) -> int:
        return sum(p.records for t in self.topics.values() for p in t.partitions.values())

    def time_range(self) -> tuple[int | None, int | None]:
        firsts = [
            p.first_ts_ms
            for t in self.topics.values()
            for p in t.partitions.values()
            if p.first_ts_ms is not None
        ]
        lasts = [
            p.last_ts_ms
            for t in self.topics.values()
            for p in t.partitions.values()
            if p.last_ts_ms is not None
        ]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)


@dataclass(frozen=True)
class ArchivedRecord:
    topic: str  # short name: frames, tickets, ...
    partition: int
    offset: int
    ts_ms: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Atomic: a reader (or a resumed recording) sees the old or the new manifest, never half."""
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, root / MANIFEST)


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.is_file():
        raise ArchiveError(f"{root}: not an archive (no {MANIFEST})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ArchiveError(f"{path}: unreadable manifest: {e}") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ArchiveError(f"{path}: not a {FORMAT} manifest")
    if raw.get("version") != VERSION:
        raise ArchiveError(
            f"{path}: format version {raw.get('version')} (this build reads {VERSION})"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        raise ArchiveError(f"{path}: invalid manifest: {e.errors()[0]['msg']}") from e


# --- record lines ---------------------------------------------------------------------------
def _text_or_b64(data: bytes | None) -> str | dict[str, str] | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        return base64.b64decode(value["b64"], validate=True)
    raise ValueError(f"not text or {{'b64': ...}}: {value!r}")


def frame_file(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/p{partition}/{offset:012d}.jpg"


def record_line(
    topic: str,
    partition: int,
    offset: int,
    ts_ms: int,
    key: bytes | None,
    value: bytes,
    headers: list[tuple[str, bytes]],
) -> dict[str, Any]:
    """The index line for one record; for frames the caller writes `value` to line['file']."""
    line: dict[str, Any] = {
        "offset": offset,
        "ts_ms": ts_ms,
        "key": _text_or_b64(key),
        "headers": [[k, _text_or_b64(v)] for k, v in headers],
    }
    if topic in FRAME_TOPICS:
        line["file"] = frame_file(topic, partition, offset)
        line["size"] = len(value)
        line["sha256"] = hashlib.sha256(value).hexdigest()
    else:
        line["value"] = _text_or_b64(value)
    return line


def index_path(topic: str, partition: int) -> str:
    return f"{topic}/p{partition}.jsonl"


# --- reading and verification ---------------------------------------------------------------
def inside(root: Path, rel: str) -> Path:
    """`root / rel` for a path the archive itself names, refused unless it stays inside the
    archive: no absolute path, no `..`, no symbolic link on the way (an archive is data from
    elsewhere; it must not make a replay read /etc/passwd or a file beside it)."""
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or Path(rel).drive or ".." in parts or "\\" in rel:
        raise ArchiveError(f"{root}: {rel!r} points outside the archive")
    at = root
    for part in parts:
        at = at / part
        if at.is_symlink():
            raise ArchiveError(f"{root}: {rel!r} goes through a symbolic link")
    if not at.resolve().is_relative_to(root.resolve()):
        raise ArchiveError(f"{root}: {rel!r} points outside the archive")
    return at


def open_archive(root: Path, verify: bool = True) -> Manifest:
    """The manifest of a complete archive; with `verify`, every checksum is checked first, so a
    replay never starts on an archive it cannot finish."""
    m = read_manifest(root)
    if not m.complete:
        raise ArchiveError(f"{root}: the recording is incomplete; rerun `citybrain record` on it")
    unsummed = [
        f"{short}/p{p}" for short, e in m.topics.items() for p, st in e.partitions.items()
        if not st.sha256
    ]  # fmt: skip
    if unsummed:  # a complete recording sums every index: a missing sum is a forged manifest
        raise ArchiveError(f"{root}: complete, but no sha256 for {', '.join(unsummed)}")
    if verify:
        for short, entry in m.topics.items():
            for p, st in entry.partitions.items():
                for _ in iter_partition(root, short, p, st, check_frames=True):
                    pass
    return m


def iter_partition(
    root: Path, topic: str, partition: int, st: PartitionState, check_frames: bool = True
) -> Iterator[ArchivedRecord]:
    """Records of one partition in offset order, each checked against its checksum."""
    path = inside(root, st.index)
    if not path.is_file():
        raise ArchiveError(f"{path}: index file missing")
    if path.stat().st_size != st.index_bytes:
        raise ArchiveError(
            f"{path}: {path.stat().st_size} bytes, the manifest says {st.index_bytes} (truncated?)"
        )
    if st.sha256 is not None and sha256_file(path) != st.sha256:
        raise ArchiveError(f"{path}: checksum mismatch (the file was changed after recording)")
    count = 0
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = json.loads(raw)
                key = _bytes(line["key"])
                headers = [(str(k), _bytes(v) or b"") for k, v in line["headers"]]
                if "file" in line:
                    value = _frame_bytes(root, line, check_frames)
                else:
                    value = _bytes(line["value"]) or b""
                rec = ArchivedRecord(
                    topic, partition, int(line["offset"]), int(line["ts_ms"]), key, value, headers
                )
            except ArchiveError:
                raise
            except (ValueError, KeyError, TypeError) as e:
                raise ArchiveError(f"{path}:{n}: malformed record line: {e}") from e
            count += 1
            yield rec
    if count != st.records:
        raise ArchiveError(f"{path}: {count} records, the manifest says {st.records}")


def _frame_bytes(root: Path, line: dict[str, Any], check: bool) -> bytes:
    fpath = inside(root, str(line["file"]))
    try:
        value = fpath.read_bytes()
    except OSError as e:
        raise ArchiveError(f"{fpath}: frame file missing") from e
    if check and (
        len(value) != line["size"]
        or not isinstance(line.get("sha256"), str)
        or hashlib.sha256(value).hexdigest() != line["sha256"]
    ):
        raise ArchiveError(f"{fpath}: checksum mismatch (the frame was changed after recording)")
    return value
