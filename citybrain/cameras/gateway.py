"""The `citybrain cameras` process: readers in, frames and camera health out.

The readers (one thread per camera of this shard) hand sampled frames to one bounded queue.
This loop sends the frames the motion gate passes to `<prefix>.frames`, keyed by camera, with
the headers the simulator writes; judges every sample's health (core/camera_health) and sends
each change of state to `<prefix>.alerts`; and writes its counters (per camera: sampled, sent,
gated, errors, reconnects, health state and since-when) where the dashboard's camera panel and
`/metrics` read them. A camera's stalled stream stalls only its own reader.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer

from citybrain.cameras.reader import CameraReader, Item, Note, Sampled
from citybrain.cameras.source import StreamSource
from citybrain.config.cameras import CameraGatewaySettings
from citybrain.core.camera_health import CameraHealth, HealthChange
from citybrain.core.city import Camera
from citybrain.core.messages import CameraHealthAlert
from citybrain.core.motion_gate import MotionGate
from citybrain.streams.counters import CameraCounter, CameraStat
from citybrain.streams.topics import Topics, partition_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """One camera this gateway reads."""

    camera: Camera
    source: StreamSource


def plan(
    cameras: Sequence[Camera], s: CameraGatewaySettings, only: set[str] | None = None
) -> list[Plan]:
    """The cameras with a stream that fall in this shard (hashed by id as Kafka keys are)."""
    out = []
    for cam in cameras:
        if cam.stream is None or (only is not None and cam.id not in only):
            continue
        if s.shard_count > 1 and partition_of(cam.id, s.shard_count) != s.shard_index:
            continue
        src = StreamSource(cam.id, cam.stream, cam.credentials, s.credentials_env_prefix)
        out.append(Plan(cam, src))
    return out


class Gateway:
    def __init__(
        self,
        plans: Sequence[Plan],
        settings: CameraGatewaySettings,
        producer: KafkaProducer,
        topics: Topics,
        max_pixels: int,
        report: Callable[[dict[str, int]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.s = settings
        self.producer = producer
        self.topics = topics
        self.report = report
        self.clock = clock
        self.stop = threading.Event()
        self.queue: queue.Queue[Item] = queue.Queue(maxsize=settings.queue_size)
        self.stats: Counter[str] = Counter()
        self._failed_sends: deque[str] = deque()  # from the producer's thread (_send_failed)
        self.plans = {p.camera.id: p for p in plans}
        now = clock()
        self.health = {cid: CameraHealth(cid, settings.health, now) for cid in self.plans}
        self.readers = [
            CameraReader(
                p.source,
                settings,
                self.queue,
                self.stop,
                sample_fps=p.camera.sample_fps or settings.sample_fps,
                gate=MotionGate(
                    settings.motion,
                    enabled=p.camera.motion_gate
                    if p.camera.motion_gate is not None
                    else settings.motion.enabled,
                    heartbeat_s=p.camera.heartbeat_s,
                ),
                max_pixels=max_pixels,
            )
            for p in plans
        ]
        # the latest changes sent, bounded (a camera that flaps for months must not grow it);
        # another thread reads it as list(changes), one step under the GIL
        self.changes: deque[HealthChange] = deque(maxlen=1000)
        for h in self.health.values():
            self._sync(h)

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        """Read, send and judge until `stop` is set (or `until()` says so)."""
        for r in self.readers:
            r.start()
        log.info("camera gateway: %d cameras: %s", len(self.readers), ", ".join(self.plans))
        last_report = 0.0
        try:
            while not stop.is_set() and not (until is not None and until()):
                try:
                    item = self.queue.get(timeout=0.2)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._guarded(
                        item.camera if isinstance(item, Note) else item.meta.camera_id,
                        self._handle,
                        item,
                    )
                self._count_failed_sends()
                now = self.clock()
                for h in self.health.values():
                    self._guarded(h.camera, self._tick, h, now)
                if now - last_report >= self.s.stats_every_s:
                    self._report()
                    last_report = now
        finally:
            self.close()

    def _tick(self, h: CameraHealth, now: float) -> None:
        self._health(h.tick(now))
        self._sync(h)

    def _guarded(self, cid: str, step: Callable[..., None], *args: object) -> None:
        """One camera's item or health step; a bug in it is counted and logged (without a
        traceback, which could carry a stream URL) and never ends the other cameras."""
        try:
            step(*args)
        except Exception as e:
            self.stats["handle_error"] += 1
            self._add(cid, CameraStat.ERRORS)
            log.warning("camera %s: not handled: %s", cid, type(e).__name__)

    def close(self) -> None:
        self.stop.set()
        # one deadline for all: a reader blocked in a read gives up within the timeouts
        deadline = time.monotonic() + self.s.read_timeout_s + self.s.open_timeout_s
        for r in self.readers:
            r.join(timeout=max(0.0, deadline - time.monotonic()))
        while True:  # what was sampled before the stop still goes out
            try:
                self._handle(self.queue.get_nowait())
            except queue.Empty:
                break
        try:
            self.producer.flush(10)
        except Exception as e:  # Kafka away at the stop: what is unsent is counted as lost
            self.stats["flush_failed"] += 1
            log.warning("camera gateway: frames not flushed at stop: %s", type(e).__name__)
        self._count_failed_sends()
        self._report()

    def _handle(self, item: Item) -> None:
        if isinstance(item, Note):
            self._note(item)
            return
        cid = item.meta.camera_id
        self.stats["sampled"] += 1
        self._add(cid, CameraStat.SAMPLED)
        self._set(cid, CameraStat.SEEN_MS, int(self.clock() * 1000))
        self._set(cid, CameraStat.LAST_MS, item.meta.ts_ms)
        if item.resized:
            self.stats["resized"] += 1
        h = self.health[cid]
        self._health(h.frame(item.stats, item.meta.ts_ms / 1000))
        self._sync(h)
        if item.jpeg is None:
            self.stats["gated"] += 1
            self._add(cid, CameraStat.GATED)
            return
        self._send_frame(item)

    def _send_frame(self, item: Sampled) -> None:
        cid = item.meta.camera_id
        assert item.jpeg is not None
        try:
            future = self.producer.send(
                self.topics.frames,
                key=cid.encode(),
                value=item.jpeg,
                headers=item.meta.to_headers(),
            )
        except Exception as e:  # too large for the producer, or the producer is closing
            self.stats["send_failed"] += 1
            self._add(cid, CameraStat.ERRORS)
            log.warning("camera %s: frame not sent: %s", cid, type(e).__name__)
            return
        future.add_errback(lambda _e, c=cid: self._send_failed(c))
        self.stats["sent"] += 1
        self.stats[f"sent.{item.decision.reason}"] += 1
        self._add(cid, CameraStat.SENT)

    def _send_failed(self, cid: str) -> None:
        """On the producer's I/O thread: only queued here (a deque's append is atomic); the
        main loop counts it, so the counters have one writer."""
        self._failed_sends.append(cid)

    def _count_failed_sends(self) -> None:
        while self._failed_sends:
            cid = self._failed_sends.popleft()
            self.stats["send_failed"] += 1
            self._add(cid, CameraStat.ERRORS)

    def _note(self, note: Note) -> None:
        cid = note.camera
        if note.kind == "connected":
            self._add(cid, CameraStat.RECONNECTS)
            self.stats["connects"] += 1
        elif note.kind == "ended":  # a file looped or a stream closed normally: no error
            self.stats["ended"] += 1
            self.health[cid].connection_error(note.detail)
        else:
            self._add(cid, CameraStat.ERRORS)
            self.health[cid].connection_error(note.detail)

    def _health(self, change: HealthChange | None) -> None:
        if change is None:
            return
        cid = change.camera
        self.changes.append(change)
        cam = self.plans[cid].camera
        detail = self.plans[cid].source.scrub(change.detail)
        log.warning(
            "camera %s: %s (was %s) since %s%s",
            cid,
            change.state,
            change.previous,
            _iso(change.since),
            f": {detail}" if detail else "",
        )
        alert = CameraHealthAlert(
            camera=cid,
            name=cam.name,
            district=cam.district,
            state=change.state.value,
            previous=change.previous.value,
            since=_at(change.since),
            detail=detail,
            at=_at(self.clock()),
        )
        key = f"{cid}:{change.state}:{int(change.since * 1000)}"
        try:
            self.producer.send(
                self.topics.alerts,
                key=cid.encode(),
                value=alert.model_dump_json().encode(),
                headers=[("idempotency-key", key.encode())],
            )
            self.stats["health_alerts"] += 1
        except Exception as e:
            self.stats["send_failed"] += 1
            log.warning("camera %s: health alert not sent: %s", cid, type(e).__name__)

    def _sync(self, h: CameraHealth) -> None:
        """The counters show the state as it is, reported or not (starting → online is not
        news, but the panel must say online)."""
        self._set(h.camera, CameraStat.HEALTH, h.state.code)
        self._set(h.camera, CameraStat.HEALTH_SINCE_MS, int(h.since * 1000))

    def _add(self, cid: str, stat: CameraStat) -> None:
        self.stats[CameraCounter(cid, stat).key] += 1

    def _set(self, cid: str, stat: CameraStat, value: int) -> None:
        self.stats[CameraCounter(cid, stat).key] = value

    def _report(self) -> None:
        self.stats["dropped"] = sum(r.dropped for r in self.readers)
        if self.report is None:
            return
        try:
            self.report(dict(self.stats))
        except Exception as e:  # counters are best effort: they never stop the gateway
            self.stats["stats_write_failed"] += 1
            log.warning("camera gateway: counters not written: %s", type(e).__name__)


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _iso(t: float) -> str:
    return _at(t).isoformat()
