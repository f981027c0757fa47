"""vision: check headers → rate limit → batch across cameras → decode + numba letterbox into the
batch buffer → backend (local torch or Triton) → YOLO decode (+ CLIP scene scores) → tracking and
camera event rules → observations.

Frames wait in the batcher across polls; the commit point of each partition stays at its oldest
frame still waiting, so a crash replays exactly the frames without observations. When the
backend is unavailable the batch goes back to the front of the queue and is retried with
exponential back-off; the queue fills and the worker pauses consumption (back-pressure).

Poison frames are the stage's own to find, since a held frame fails in whatever poll is running:
a batch the model refuses goes again frame by frame, and a frame that fails alone, or makes the
rules raise, goes to the DLQ (`inference_failed`, `stage_error`) while its neighbours go on.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta
from citybrain.core.zones import class_categories
from citybrain.errors import RejectedRecord
from citybrain.streams.counters import CameraCounter, CameraStat
from citybrain.streams.jobs import JobSpec
from citybrain.streams.offsets import OffsetTracker
from citybrain.streams.poison import STAGE_ERROR
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics, partition_of
from citybrain.vision.backends.base import CLIP_IMAGE, DETECTOR, INPUT, OUTPUTS, InferenceBackend
from citybrain.vision.backends.local import LocalBackend
from citybrain.vision.batcher import FrameBatcher
from citybrain.vision.decode import check_frame, parse_meta
from citybrain.vision.detections import Detections
from citybrain.vision.errors import BackendError, BackendUnavailable
from citybrain.vision.events import CameraEvents
from citybrain.vision.heads.yolo import decode_yolo
from citybrain.vision.prepare import (
    FramePreparer,
    Prepared,
    as_numpy,
    frame_limits,
    select_preparer,
)
from citybrain.vision.scene import SceneScores, ZeroShotHead

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Frame:
    rec: InRecord
    meta: FrameMeta

    @property
    def tp(self) -> tuple[str, int]:
        return (self.rec.topic, self.rec.partition)


class VisionStage(Stage):
    name = "vision"
    holds_records = True  # frames wait in the batcher across polls

    def __init__(
        self,
        settings: Settings,
        city: City,
        topics: Topics,
        backend: InferenceBackend,
        names: dict[int, str],
        preparer: FramePreparer | None = None,
        clock: Callable[[], float] = time.monotonic,
        scene: ZeroShotHead | None = None,
    ) -> None:
        self.settings = s = settings.vision
        self.city = city
        self.topics = topics
        self.backend = backend
        self.names = names
        self.preparer = preparer or select_preparer(s, clip=scene is not None)
        self.classes = class_categories(city)
        self.stats: Counter[str] = Counter()
        self.clock = clock
        self.batcher: FrameBatcher[_Frame] = FrameBatcher(
            max_batch=s.batch_size,
            max_delay_s=s.max_batch_delay_ms / 1000,
            max_queued=s.max_queued_frames,
            camera_queue=s.camera_queue,
            fps=self._allowed_fps,
            burst_s=s.rate_burst_s,
            clock=clock,
        )
        self.events = CameraEvents(settings, city, self.stats)
        self.scene = scene
        self.offsets = OffsetTracker()
        # partition -> its commit point when this process was assigned it: the frames before
        # it are re-read only to rebuild the rules' and trackers' memory (replay_from)
        self._warm: dict[tuple[str, int], int] = {}
        self._backoff_s = 0.0
        self._retry_at = 0.0

    def _allowed_fps(self, camera_id: str) -> float:
        return self.city.camera_by_id[camera_id].fps * self.settings.rate_limit_factor

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        for rec in records:
            if not self._warming(rec):
                self.offsets.seen((rec.topic, rec.partition), rec.offset)
            try:
                meta = self._admit(rec)
            except RejectedRecord as err:
                self._reject(batch, rec, err)
                continue
            verdict, pushed_out = self.batcher.offer(meta.camera_id, meta.ts_ms, _Frame(rec, meta))
            if verdict == "rate_limited":
                self._skip(_Frame(rec, meta), "rate_limit")
            for frame in pushed_out:
                self._skip(frame, "overload")
        if self.batcher.clock_resets:  # a camera's clock went back: its rate limit restarted
            self.stats["rate_limit.clock_resets"] = self.batcher.clock_resets
        self._drain(batch)
        return batch

    def tick(self) -> Batch:
        batch = Batch()
        self._drain(batch)
        return batch

    def saturated(self) -> bool:
        """Pause consumption when the queue is full, and for as long as the backend is in
        back-off: frames fetched during an outage would only push waiting ones out."""
        return self.batcher.full() or self.clock() < self._retry_at

    def holding(self) -> int:
        return self.offsets.in_flight()

    def _admit(self, rec: InRecord) -> FrameMeta:
        """Cheap checks only; decoding waits until the frame's batch closes."""
        if len(rec.value) > self.settings.max_frame_bytes:
            raise RejectedRecord("oversized_frame", f"{len(rec.value)} bytes")
        meta = parse_meta(rec.headers)
        if meta.camera_id not in self.city.camera_by_id:
            raise RejectedRecord("unknown_camera", meta.camera_id)
        # The header walk costs microseconds, so a bomb or a lying frame never waits in a batch.
        check_frame(rec.value, meta, *frame_limits(self.settings))
        return meta

    def _skip(self, frame: _Frame, policy: str) -> None:
        """A deliberate drop: counted in total and per camera, then committed like any frame."""
        if self._warming(frame.rec):  # counted when it was first read
            return
        self.stats[f"skipped.{policy}"] += 1
        self.stats[f"skipped.{policy}.{frame.meta.camera_id}"] += 1
        log.debug("%s: skipped %s (%s)", self.name, frame.rec.ref, policy)
        self.offsets.done(frame.tp, frame.rec.offset)

    def _reject(self, batch: Batch, rec: InRecord, err: RejectedRecord) -> None:
        if self._warming(rec):  # dead-lettered when it was first read
            return
        batch.rejected.append((rec, err))
        camera = (rec.key or b"unknown").decode(errors="replace")
        if camera in self.city.camera_by_id:  # camera health on the dashboard
            self.stats[CameraCounter(camera, CameraStat.ERRORS).key] += 1
        self.offsets.done((rec.topic, rec.partition), rec.offset)

    def _drain(self, batch: Batch) -> None:
        while self.batcher.ready() and self.clock() >= self._retry_at:
            frames = self.batcher.take()
            prepared = self._prepare(frames, batch)
            try:
                self._infer(frames, prepared, batch)
            except BackendUnavailable as e:
                # Only the frames not finished wait for the retry: the others are already
                # dead-lettered (or observed, before a split batch met the outage).
                kept = [
                    f
                    for f in frames
                    if self._warming(f.rec) or self.offsets.is_open(f.tp, f.rec.offset)
                ]
                self.batcher.put_back([(f.meta.camera_id, f) for f in kept])
                self._backoff_s = min(
                    self.settings.retry_max_ms / 1000,
                    max(self.settings.retry_initial_ms / 1000, self._backoff_s * 2),
                )
                self._retry_at = self.clock() + self._backoff_s
                self.stats["backend.unavailable"] += 1
                log.warning(
                    "%s: backend %s unavailable (%s); %d frames wait, retry in %.1fs",
                    self.name,
                    self.backend.name,
                    e,
                    len(self.batcher),
                    self._backoff_s,
                )
                break
            self._backoff_s = 0.0
        batch.commit = self.offsets.advance()
        self.stats["waiting"] = self.offsets.in_flight()  # a gauge: consumed, not yet finished

    def _prepare(self, frames: list[_Frame], batch: Batch) -> Prepared:
        """Decode and preprocess; frames that do not decode are rejected here, once."""
        prepared = self.preparer.prepare([f.rec.value for f in frames])
        for i, err in prepared.rejected:
            self._reject(batch, frames[i].rec, err)
        return prepared

    def _infer(self, frames: list[_Frame], prepared: Prepared, batch: Batch) -> None:
        if not prepared.kept:
            return
        images = prepared.images
        if not isinstance(self.backend, LocalBackend):
            images = as_numpy(images).astype("float32", copy=False)
        try:
            raw = self.backend.infer(DETECTOR, {INPUT: images})[OUTPUTS[DETECTOR]]  # type: ignore[dict-item]
            scenes = self._scene_scores(prepared.clip_images, len(prepared.kept))
            s = self.settings
            found = decode_yolo(
                raw, prepared.letterboxes, self.names, s.conf_threshold, s.iou_threshold
            )
        except BackendUnavailable:
            raise
        except (BackendError, ValueError) as e:  # an error, or an output of the wrong shape:
            # retrying cannot help, and the frames keep their bytes in the DLQ
            self.stats["backend.error"] += 1
            if len(prepared.kept) > 1:
                # One frame the model cannot take must not take the batch with it: each frame
                # goes again alone, and only those that fail alone are dead-lettered.
                self.stats["backend.error.split"] += 1
                for i in prepared.kept:
                    alone = [frames[i]]
                    self._infer(alone, self._prepare(alone, batch), batch)
                return
            for i in prepared.kept:
                self._reject(batch, frames[i].rec, RejectedRecord("inference_failed", str(e)))
            return
        self.stats["batches"] += 1
        self.stats["frames.grey"] += prepared.grey
        for i, dets, scene in zip(prepared.kept, found, scenes, strict=True):
            frame = frames[i]
            try:
                outputs = self._observations(frame.rec, frame.meta, dets, scene)
            except Exception as e:
                # A held frame raising here would be blamed on whichever poll was running, so
                # the stage dead-letters it itself, and its camera's next frames go on.
                log.warning("%s: rules failed on %s: %r", self.name, frame.rec.ref, e)
                self.stats["stage_errors"] += 1
                detail = f"{type(e).__name__}: {e}"
                self._reject(batch, frame.rec, RejectedRecord(STAGE_ERROR, detail))
                continue
            if self._warming(frame.rec):  # its observations went out before the restart
                self.stats["warm_up.frames"] += 1
                continue
            self.stats["frames"] += 1
            self.stats["detections"] += len(dets)
            # Camera health on the dashboard: frames, newest capture time, when last processed.
            self._camera_seen(frame.meta)
            batch.outputs += outputs
            self.offsets.done(frame.tp, frame.rec.offset)

    def _camera_seen(self, meta: FrameMeta) -> None:
        cam = meta.camera_id
        last = CameraCounter(cam, CameraStat.LAST_MS).key
        self.stats[CameraCounter(cam, CameraStat.FRAMES).key] += 1
        self.stats[last] = max(self.stats[last], meta.ts_ms)
        self.stats[CameraCounter(cam, CameraStat.SEEN_MS).key] = int(time.time() * 1000)

    def _scene_scores(self, clip_images: object, n: int) -> list[SceneScores | None]:
        """Zero-shot scene scores (with the image embedding) per frame, or None for all when
        the head is off (or the preparer made no CLIP input). Backend errors propagate like
        the detector's."""
        if self.scene is None or clip_images is None:
            return [None] * n
        emb = self.backend.infer(CLIP_IMAGE, {INPUT: clip_images})[OUTPUTS[CLIP_IMAGE]]  # type: ignore[dict-item]
        self.stats["scene_scored"] += n
        return list(self.scene.score(as_numpy(emb)))

    def _observations(
        self,
        rec: InRecord,
        meta: FrameMeta,
        dets: Detections,
        scene: SceneScores | None = None,
    ) -> list[Output]:
        """Camera event rules (citybrain/vision/events.py): track, apply the rules, and emit an
        observation only where a rule opened, continued or cleared an event."""
        camera = self.city.camera_by_id[meta.camera_id]
        return [
            Output(
                topic=self.topics.observations,
                key=key.encode(),
                value=obs.model_dump_json().encode(),
            )
            for key, obs in self.events.observe(
                camera,
                meta,
                dets,
                rec.ref,
                scene_scores=scene.scores if scene else None,
                embedding=scene.embedding if scene else None,
            )
        ]

    def replay_from(self, tp: tuple[str, int], committed: int, partitions: int) -> int:
        """A new process knows nothing of its cameras' recent past: the hit windows, open
        events and tracks the rules decide by. Without them a restart mid-event would open it
        again later, or never clear it. So the partition is re-read from `warm_up_frames`
        frames per camera before the commit point, and those frames go through detection,
        tracking and the rules again with nothing emitted."""
        n = self.settings.warm_up_frames
        if not n or not committed or not partitions:
            return committed
        cameras = [c for c in self.city.camera_by_id if partition_of(c, partitions) == tp[1]]
        if all(self.events.knows(c) for c in cameras):
            return committed  # this process kept their memory across the rebalance
        self._warm[tp] = committed
        self.stats["warm_up.starts"] += 1
        return max(0, committed - n * len(cameras))

    def _warming(self, rec: InRecord) -> bool:
        return rec.offset < self._warm.get((rec.topic, rec.partition), -1)

    def on_assigned(self) -> None:
        """Partitions moved: frames still waiting will be consumed again from the commit point."""
        dropped = self.batcher.clear()
        self.offsets.reset()
        self._warm.clear()
        if dropped:
            self.stats["requeued.rebalance"] += len(dropped)
            log.info("%s: %d waiting frames left to be re-consumed", self.name, len(dropped))


def build_vision_stage(
    settings: Settings, city: City, store: object, topics: Topics
) -> VisionStage:
    """The stage with its inference backend (local torch or Triton) and the CLIP scene head."""
    from citybrain.vision.backends.factory import build_backend, load_scene_head

    scene = load_scene_head(settings.vision, city)
    backend, names = build_backend(settings.vision, scene[0] if scene else None)
    return VisionStage(settings, city, topics, backend, names, scene=scene and scene[1])


SPEC = JobSpec(
    name="vision",
    inputs=lambda t: [t.frames],
    max_poll_records=lambda s: s.vision.batch_size,
    build=build_vision_stage,
)
