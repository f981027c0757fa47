"""The archive format read back without a broker, and how a replay rewrites times and ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.replay.archive import (
    ArchivedRecord,
    Manifest,
    PartitionState,
    TopicEntry,
    iter_partition,
    open_archive,
    record_line,
    sha256_file,
    write_manifest,
)
from citybrain.replay.errors import ArchiveError
from citybrain.replay.play import ReplayOptions, _rewrite, parse_speed, selected

T0 = 1_780_000_000_000


def build(root: Path) -> Manifest:
    """Two frames of two cameras and two tickets (one broken), written as `record` would."""
    topics = {}
    for short, rows in {
        "frames": [
            (
                0,
                T0,
                b"cam-01",
                b"\xff\xd8jpeg-1",
                [("camera_id", b"cam-01"), ("ts_ms", str(T0 - 5).encode()), ("seq", b"0")],
            ),
            (
                1,
                T0 + 2000,
                b"cam-02",
                b"\xff\xd8jpeg-2",
                [("camera_id", b"cam-02"), ("ts_ms", str(T0 + 1995).encode()), ("seq", b"0")],
            ),
        ],
        "tickets": [
            (
                0,
                T0 + 1000,
                b"T-1",
                json.dumps(
                    {
                        "ticket_id": "T-1",
                        "received_at": "2026-05-28T20:26:40+00:00",
                        "text": "积水",
                    },
                    ensure_ascii=False,
                ).encode(),
                [],
            ),
            (1, T0 + 3000, b"broken", b'{"ticket_id": "T-brok', []),
        ],
    }.items():
        (root / short).mkdir(parents=True)
        index = root / short / "p0.jsonl"
        with index.open("wb") as f:
            for off, ts, key, value, headers in rows:
                line = record_line(short, 0, off, ts, key, value, headers)
                if "file" in line:
                    (root / line["file"]).parent.mkdir(parents=True, exist_ok=True)
                    (root / line["file"]).write_bytes(value)
                f.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        topics[short] = TopicEntry(
            name=f"city.{short}",
            kind=short,
            partitions={
                0: PartitionState(
                    start_offset=0,
                    end_offset=2,
                    next_offset=2,
                    records=2,
                    index=f"{short}/p0.jsonl",
                    index_bytes=index.stat().st_size,
                    sha256=sha256_file(index),
                    done=True,
                )
            },
        )
    m = Manifest(
        created_at=datetime.now(UTC),
        complete=True,
        source_prefix="city",
        to_ms=T0 + 10_000,
        topics=topics,
    )
    write_manifest(root, m)
    return m


def test_records_come_back_merged_by_time_and_filtered(tmp_path: Path) -> None:
    m = build(tmp_path)
    assert open_archive(tmp_path) == m
    got = [(r.topic, r.offset) for r in selected(tmp_path, m, ReplayOptions())]
    assert got == [("frames", 0), ("tickets", 0), ("frames", 1), ("tickets", 1)]
    only = selected(tmp_path, m, ReplayOptions(cameras=frozenset({"cam-02"}), from_ms=T0 + 500))
    assert [(r.topic, r.offset) for r in only] == [("tickets", 0), ("frames", 1), ("tickets", 1)]


def test_a_changed_or_incomplete_archive_is_refused(tmp_path: Path) -> None:
    m = build(tmp_path)
    index = tmp_path / "tickets" / "p0.jsonl"
    index.write_bytes(index.read_bytes().replace(b"T-1", b"T-2"))
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        open_archive(tmp_path)
    st = m.topics["tickets"].partitions[0]
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        list(iter_partition(tmp_path, "tickets", 0, st))
    write_manifest(tmp_path, m.model_copy(update={"complete": False}))
    with pytest.raises(ArchiveError, match="incomplete"):
        open_archive(tmp_path)
    raw = json.loads((tmp_path / "manifest.json").read_text())
    raw["version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ArchiveError, match="format version 99"):
        open_archive(tmp_path)


def rec(
    topic: str, value: bytes, headers: list[tuple[str, bytes]], key: bytes = b"k"
) -> ArchivedRecord:
    return ArchivedRecord(topic, 0, 0, T0, key, value, headers)


def test_time_shift_and_loops_rewrite_consistently() -> None:
    frame = rec(
        "frames", b"\xff\xd8", [("camera_id", b"cam-01"), ("ts_ms", b"1000"), ("seq", b"4")]
    )
    assert _rewrite(frame, 0, 0, 10) == (frame.key, frame.value, frame.headers)
    _, _, h = _rewrite(frame, 60_000, 2, 10)
    assert dict(h) == {"camera_id": b"cam-01", "ts_ms": b"61000", "seq": b"24"}

    ticket = rec(
        "tickets",
        b'{"ticket_id": "T-1", "received_at": "2026-05-01T08:00:00Z", "text": "x"}',
        [],
        b"T-1",
    )
    key, value, _ = _rewrite(ticket, 90_000, 1, 10)
    body = json.loads(value)
    assert key == b"T-1~1" and body["ticket_id"] == "T-1~1"
    assert datetime.fromisoformat(body["received_at"]) == datetime(2026, 5, 1, 8, 1, 30, tzinfo=UTC)
    broken = rec("tickets", b'{"ticket_id": "T-brok', [], b"broken")
    assert _rewrite(broken, 90_000, 1, 10) == (b"broken", broken.value, [])  # still dead-lettered


def test_speed_parsing() -> None:
    assert parse_speed("max") is None and parse_speed("10") == 10.0 and parse_speed("0.5") == 0.5
    for bad in ("0", "-1", "fast"):
        with pytest.raises(ValueError, match="positive number or 'max'"):
            parse_speed(bad)


@pytest.mark.parametrize("where", ["index", "frame"])
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_paths_out_of_the_archive_are_refused(tmp_path: Path, where: str, how: str) -> None:
    root = tmp_path / "archive"
    m = build(root)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not yours")
    target = {"absolute": str(secret), "dotdot": "../secret.txt", "symlink": "link.txt"}[how]
    if how == "symlink":
        (root / "link.txt").symlink_to(secret)
    if where == "index":
        st = m.topics["tickets"].partitions[0].model_copy(update={"index": target})
        with pytest.raises(ArchiveError, match=r"outside the archive|symbolic link"):
            list(iter_partition(root, "tickets", 0, st))
    else:
        index = root / "frames" / "p0.jsonl"
        lines = [json.loads(x) for x in index.read_bytes().splitlines()]
        lines[0]["file"] = target
        index.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
        st = (
            m.topics["frames"]
            .partitions[0]
            .model_copy(update={"index_bytes": index.stat().st_size, "sha256": sha256_file(index)})
        )
        with pytest.raises(ArchiveError, match=r"outside the archive|symbolic link"):
            list(iter_partition(root, "frames", 0, st))


def test_a_complete_archive_without_checksums_is_refused(tmp_path: Path) -> None:
    m = build(tmp_path)
    topics = dict(m.topics)
    entry = topics["tickets"]
    topics["tickets"] = entry.model_copy(
        update={"partitions": {0: entry.partitions[0].model_copy(update={"sha256": None})}}
    )
    write_manifest(tmp_path, m.model_copy(update={"topics": topics}))
    with pytest.raises(ArchiveError, match="no sha256 for tickets/p0"):
        open_archive(tmp_path)
    index = tmp_path / "frames" / "p0.jsonl"
    lines = [json.loads(x) for x in index.read_bytes().splitlines()]
    lines[0]["sha256"] = None
    index.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    st = (
        m.topics["frames"]
        .partitions[0]
        .model_copy(update={"index_bytes": index.stat().st_size, "sha256": sha256_file(index)})
    )
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        list(iter_partition(tmp_path, "frames", 0, st))
