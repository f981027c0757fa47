"""The vision pipeline against the real broker and the real (untrained) YOLO architecture."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from citybrain.config import Settings
from citybrain.core.messages import FrameMeta
from citybrain.runtime import run_job
from citybrain.streams.topics import Topics

from .conftest import produce, read_topic

pytestmark = pytest.mark.integration


def jpeg(w: int = 320, h: int = 180, seed: int = 0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def headers(
    camera: str = "cam-01", seq: int = 0, w: int = 320, h: int = 180
) -> list[tuple[str, bytes]]:
    return FrameMeta(
        camera_id=camera, ts_ms=1_777_000_000_000 + seq, seq=seq, width=w, height=h
    ).to_headers()


def test_frames_are_processed_and_bad_frames_dead_lettered(live_settings: Settings) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    good = [(b"cam-01", jpeg(seed=i), headers(seq=i)) for i in range(5)]
    good.append((b"cam-02", jpeg(200, 100), headers("cam-02", 0)))  # headers lie about the size
    bad = [
        (b"cam-03", b"\xff\xd8 this is not really a jpeg", headers("cam-03"), "undecodable_jpeg"),
        (b"cam-03", b"GIF89a....", headers("cam-03", 1), "undecodable_jpeg"),
        (b"cam-04", jpeg(), [h for h in headers("cam-04") if h[0] != "ts_ms"], "missing_headers"),
        (
            b"cam-04",
            jpeg(),
            [
                ("camera_id", b"cam-04"),
                ("ts_ms", b"soon"),
                ("seq", b"1"),
                ("width", b"320"),
                ("height", b"180"),
            ],
            "invalid_headers",
        ),
        (b"cam-99", jpeg(), headers("cam-99"), "unknown_camera"),
        (b"cam-05", b"\xff\xd8" + b"\0" * (50 * 1024 * 1024), headers("cam-05"), "oversized_frame"),
    ]
    produce(s.kafka.bootstrap_servers, topics.frames, good + [(k, v, h) for k, v, h, _ in bad])

    counters = run_job("vision", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=30.0)
    assert counters["consumed"] == len(good) + len(bad)
    assert counters["frames"] == len(good)  # every frame processed or dead-lettered
    assert counters["dlq"] == len(bad)
    assert counters["size_mismatch"] == 1

    dead = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert sorted(dict(r.headers)["dlq.reason"].decode() for r in dead) == sorted(b[3] for b in bad)
    big = next(r for r in dead if dict(r.headers)["dlq.reason"] == b"oversized_frame")
    h = dict(big.headers)
    assert h["dlq.truncated"] == b"True" and len(big.value) <= 1024 * 1024
    # The whole record is still where the DLQ header points.
    assert h["dlq.source_topic"] == topics.frames.encode()
    assert int(h["dlq.source_offset"]) >= 0
    small = next(r for r in dead if dict(r.headers)["dlq.reason"] == b"unknown_camera")
    assert dict(small.headers)["dlq.truncated"] == b"False" and small.value == bad[4][1]
