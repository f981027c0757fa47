"""The vision pipeline against the real broker and the real (untrained) YOLO architecture."""

from __future__ import annotations

import threading
from collections import Counter

import cv2
import numpy as np
import pytest

from citybrain.city_loading import load_city
from citybrain.config import Settings
from citybrain.core.messages import FrameMeta
from citybrain.runtime import run_job
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.topics import Topics, partition_of
from citybrain.streams.worker import StreamWorker
from citybrain.vision.backends.local import LocalBackend, load_detector
from citybrain.vision.errors import BackendUnavailable
from pipelines.vision import VisionStage

from .conftest import produce, read_topic, run_until_idle

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
        (b"cam-02", jpeg(200, 100), headers("cam-02", 0), "frame_size_mismatch"),
        (b"cam-05", b"\xff\xd8" + b"\0" * (50 * 1024 * 1024), headers("cam-05"), "oversized_frame"),
    ]
    produce(s.kafka.bootstrap_servers, topics.frames, good + [(k, v, h) for k, v, h, _ in bad])

    counters = run_job("vision", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=30.0)
    assert counters["consumed"] == len(good) + len(bad)
    assert counters["frames"] == len(good)  # every frame processed or dead-lettered
    assert counters["dlq"] == len(bad)

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


def committed_everything(s: Settings, topic: str) -> bool:
    """The vision group's commit point is the end of every partition of `topic`."""
    from kafka import KafkaConsumer, TopicPartition

    from citybrain.streams.kafka_io import group_id

    c = KafkaConsumer(
        bootstrap_servers=s.kafka.bootstrap_servers,
        group_id=group_id(s.kafka, "vision"),
        enable_auto_commit=False,
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        ends = c.end_offsets(parts)
        return all((c.committed(tp) or 0) == ends[tp] for tp in parts)
    finally:
        c.close()


def smooth(w: int, h: int) -> np.ndarray:
    """A gradient: compresses well, so even an 8K frame is a small record."""
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    return np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)


def encode(img: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def test_bad_frames_and_a_camera_at_ten_times_its_rate(live_settings: Settings) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    items: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    # cam-01 publishes at 10 fps; the city says 1 fps (the default), 1.5x is admitted
    for i in range(60):
        items.append((b"cam-01", jpeg(seed=i), headers("cam-01", i * 100)))
    # three well-behaved cameras at 1 fps
    for cam in ("cam-02", "cam-03", "cam-04"):
        for i in range(3):
            items.append((cam.encode(), jpeg(seed=i), headers(cam, i * 1000)))
    colour = jpeg(seed=7)
    odd = [
        (encode(smooth(7680, 4320)), 7680, 4320),  # 8K
        (encode(np.full((16, 16, 3), 90, np.uint8)), 16, 16),
        (encode(smooth(64, 48)[:, :, 0]), 64, 48),  # greyscale JPEG
        (colour[: len(colour) // 2], 320, 180),  # truncated
        (encode(np.full((32, 32, 3), 40000, np.uint16), ".png"), 32, 32),  # 16-bit PNG
    ]
    for i, (data, w, h) in enumerate(odd):
        items.append((b"cam-05", data, headers("cam-05", i * 1000, w, h)))
    produce(s.kafka.bootstrap_servers, topics.frames, items)

    c = Counter(run_job("vision", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=30.0))
    assert c["consumed"] == len(items)
    skipped = c["skipped.rate_limit"] + c["skipped.overload"]
    assert c["frames"] + c["dlq"] + skipped == len(items)  # every frame accounted for
    assert c["skipped.rate_limit.cam-01"] >= 30  # ~16 of 60 fit 1.5 fps over 6 s + a 5 s burst
    assert c["skipped.rate_limit"] == c["skipped.rate_limit.cam-01"]  # nobody else throttled
    assert c["skipped.overload"] == c["skipped.overload.cam-01"]
    assert c["frames"] == len(items) - skipped - 2  # the others all analysed, 8K and 16x16 too
    assert c["frames.grey"] == 1
    assert c["dlq"] == c["dlq.undecodable_jpeg"] == 2
    dead = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    details = sorted(dict(r.headers)["dlq.detail"].decode() for r in dead)
    assert "not a JPEG: a PNG image" in details and any("truncated?" in d for d in details)
    assert committed_everything(s, topics.frames)  # skipped frames are committed, not lost


class DownThenUp:
    """Stands in for a served backend that is down for its first `failures` calls (a real
    server outage cannot be staged in this branch's tests); then the real local backend answers."""

    name = "down-then-up"

    def __init__(self, inner: LocalBackend, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def infer(self, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendUnavailable("connection refused")
        return self.inner.infer(model, inputs)

    def close(self) -> None:
        self.inner.close()


def test_backend_outage_pauses_consumption_and_loses_nothing(live_settings: Settings) -> None:
    """The queue is far from full (default max_queued_frames): consumption pauses because the
    backend is in back-off. A corrupt frame in a batch that meets the outage is dead-lettered
    once, not again with every retry of its batch."""
    s = live_settings.model_copy(
        update={
            "vision": live_settings.vision.model_copy(
                update={"batch_size": 2, "retry_initial_ms": 100}
            )
        }
    )
    topics = Topics(s.kafka.topic_prefix)
    cams = ("cam-01", "cam-02", "cam-03", "cam-04")
    items = [(c.encode(), jpeg(seed=i), headers(c, i * 1000)) for i in range(4) for c in cams]
    items.insert(1, (b"cam-02", b"\xff\xd8\xff broken", headers("cam-02", 500)))
    produce(s.kafka.bootstrap_servers, topics.frames, items)

    model, names = load_detector(s.vision.model, trust_pickle=s.vision.trust_pickled_model)
    backend = DownThenUp(LocalBackend({"detector": model}), failures=4)
    stage = VisionStage(s, load_city(s), topics, backend, names)
    worker = StreamWorker(
        consumer=make_consumer(s.kafka, "vision", max_records=2),
        producer=make_producer(s.kafka),
        stage=stage,
        topics=[topics.frames],
        dlq_topic=topics.dlq,
        poll_timeout_ms=200,
    )
    try:
        worker.run(threading.Event(), idle_exit_s=3.0, first_wait_s=30.0)
    finally:
        worker.close()
    c = stage.stats
    assert c["backend.unavailable"] == 4 and backend.calls > 4
    assert c["paused"] >= 1  # consumption paused while the backend was down
    assert c["frames"] == len(items) - 1 and c["skipped.overload"] == 0
    assert c["dlq"] == c["dlq.undecodable_jpeg"] == 1
    assert len(read_topic(s.kafka.bootstrap_servers, topics.dlq)) == 1
    assert committed_everything(s, topics.frames)


def test_a_restarted_vision_job_re_reads_its_cameras_recent_frames_before_the_commit(
    live_settings: Settings,
) -> None:
    """The second process of the job starts each partition `warm_up_frames` frames per camera
    before the first one's commit, as the producer placed them (murmur2 of the camera id),
    and sends nothing for those frames: no observation and no dead letter a second time."""
    s = live_settings.model_copy(
        update={"vision": live_settings.vision.model_copy(update={"warm_up_frames": 2})}
    )
    topics = Topics(s.kafka.topic_prefix)
    cams = ("cam-01", "cam-02", "cam-03", "cam-04")
    city = load_city(s)
    model, names = load_detector(s.vision.model, trust_pickle=s.vision.trust_pickled_model)

    def one_process(first: int) -> VisionStage:
        items = [(c.encode(), jpeg(seed=i), headers(c, i * 1000)) for i in range(first, first + 3)
                 for c in cams]  # fmt: skip
        produce(s.kafka.bootstrap_servers, topics.frames, items)
        stage = VisionStage(s, city, topics, LocalBackend({"detector": model}), names)
        run_until_idle(s, stage, "vision", inputs=[topics.frames])
        return stage

    first = one_process(0)
    second = one_process(3)
    frames = read_topic(s.kafka.bootstrap_servers, topics.frames)
    placed = {(r.key.decode(), r.partition) for r in frames}
    assert placed == {(c, partition_of(c, s.kafka.partitions)) for c in cams}
    cams_on = Counter(partition_of(c, s.kafka.partitions) for c in city.camera_by_id)
    held = Counter(p for _, p in placed)  # partitions with frames: each re-read up to 2 per camera
    assert second.stats["warm_up.starts"] == len(held)
    assert second.stats["warm_up.frames"] == sum(
        min(2 * cams_on[p], 3 * n) for p, n in held.items()
    )
    assert first.stats["frames"] == second.stats["frames"] == 12  # the new frames, once
    assert not read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert committed_everything(s, topics.frames)
