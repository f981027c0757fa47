"""One thread per camera: open the stream, decode, sample, measure, gate, encode, hand over.

A reader never waits on anything but its own stream and never blocks another: what it samples
goes into the gateway's bounded queue without waiting (the oldest item makes room when it is
full). A stream that fails is reopened with jittered exponential back-off (tenacity); after a
session that delivered frames it is reopened at once. A video file is played at its own
frame rate, as a camera would send it, and reopened when it ends (it loops).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Literal

import av
import cv2
from tenacity import RetryError, Retrying, retry_if_exception_type, wait_exponential_jitter

from citybrain.cameras.errors import StreamError
from citybrain.cameras.source import StreamSource, open_stream
from citybrain.config.cameras import CameraGatewaySettings
from citybrain.core.frame_stats import FrameStats, frame_stats
from citybrain.core.messages import FrameMeta
from citybrain.core.motion_gate import GateDecision, MotionGate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampled:
    """One sampled frame: its measurements for health, the gate's verdict, and the JPEG when
    the gate sends it."""

    meta: FrameMeta
    stats: FrameStats
    decision: GateDecision
    jpeg: bytes | None
    resized: bool = False


@dataclass(frozen=True)
class Note:
    """Something the gateway should know about a camera's connection."""

    camera: str
    kind: Literal["connected", "failed", "ended"]
    detail: str


Item = Sampled | Note


def offer(q: queue.Queue[Item], item: Item) -> bool:
    """Put without waiting; when full, drop the oldest item to make room. False if an item
    was dropped."""
    try:
        q.put_nowait(item)
        return True
    except queue.Full:
        pass
    with contextlib.suppress(queue.Empty):
        q.get_nowait()
    with contextlib.suppress(queue.Full):
        q.put_nowait(item)
    return False


class CameraReader(threading.Thread):
    def __init__(
        self,
        source: StreamSource,
        settings: CameraGatewaySettings,
        out: queue.Queue[Item],
        stop: threading.Event,
        sample_fps: float,
        gate: MotionGate,
        max_pixels: int,
    ) -> None:
        super().__init__(name=f"camera-{source.camera}", daemon=True)
        self.src = source
        self.s = settings
        self.out = out
        self.stop = stop
        self.interval = 1.0 / sample_fps
        self.gate = gate
        self.max_pixels = max_pixels
        self.seq = 0
        self.dropped = 0
        self._last_failure = ""

    def run(self) -> None:
        while not self.stop.is_set():
            retrying = Retrying(
                retry=retry_if_exception_type(StreamError),
                wait=wait_exponential_jitter(
                    multiplier=self.s.retry_initial_s, max=self.s.retry_max_s, jitter=0.5
                ),
                sleep=self._sleep,
                stop=lambda _state: self.stop.is_set(),
                before_sleep=self._failed,
            )
            try:
                for attempt in retrying:
                    with attempt:
                        self._session()
            except RetryError:
                return
            except Exception as e:  # a bug must not end the camera for good: log, go on
                # no traceback: a message from below could repeat the stream's URL
                log.error("camera %s: reader error: %s", self.src.camera, self.src.scrub(repr(e)))
                self._note("failed", f"reader error: {type(e).__name__}")
                self.stop.wait(self.s.retry_max_s)

    def _sleep(self, seconds: float) -> None:
        """Back-off that a stop cuts short."""
        self.stop.wait(seconds)

    def _failed(self, state: object) -> None:
        outcome = getattr(state, "outcome", None)
        exc = outcome.exception() if outcome is not None else None
        detail = self.src.scrub(str(exc)) if exc is not None else "failed"
        # said once per run of failures (and when the reason changes), not every back-off
        level = logging.DEBUG if detail == self._last_failure else logging.WARNING
        log.log(level, "camera %s: %s; retrying", self.src.camera, detail)
        self._last_failure = detail
        self._note("failed", detail)

    def _note(self, kind: Literal["connected", "failed", "ended"], detail: str) -> None:
        if not offer(self.out, Note(self.src.camera, kind, detail)):
            self.dropped += 1

    def _session(self) -> None:
        """Read until the stream fails or ends; StreamError when it gave no frame at all."""
        container = open_stream(self.src, self.s.open_timeout_s, self.s.read_timeout_s)
        log.info("camera %s: opened %s", self.src.camera, self.src.public)
        self._last_failure = ""
        self._note("connected", self.src.public)
        delivered = 0
        what = "file ended" if self.src.is_file else "stream ended"
        try:
            t0, first, last = time.monotonic(), None, 0.0
            next_sample = 0.0
            for frame in container.decode(container.streams.video[0]):
                if self.stop.is_set():
                    break
                if self.src.is_file and frame.time is not None:  # played as a camera sends it
                    if first is None or not 0 <= frame.time - last < 5:  # a jump in time
                        t0, first = time.monotonic(), frame.time
                    last = frame.time
                    self.stop.wait(max(0.0, t0 + frame.time - first - time.monotonic()))
                now = time.time()
                if now < next_sample:
                    continue
                next_sample = max(next_sample + self.interval, now)
                self._sample(frame, now)
                delivered += 1
        except (av.FFmpegError, OSError) as e:  # timed out, connection lost, broken data
            what = self.src.scrub(str(getattr(e, "strerror", None) or type(e).__name__))
        finally:
            container.close()
        if self.stop.is_set():
            return
        if not delivered:
            raise StreamError(f"{self.src.public}: {what} before a frame was decoded")
        log.info("camera %s: %s after %d samples; reopening", self.src.camera, what, delivered)
        self._note("ended", what)
        # a source that ends as soon as it starts (a recording over HTTP) is not hammered
        self.stop.wait(self.s.retry_initial_s)

    def _sample(self, frame: av.VideoFrame, now: float) -> None:
        w, h = frame.width, frame.height
        resized = False
        if w * h > self.max_pixels:  # e.g. a 100 MP keyframe: sent, but at a size that fits
            k = (self.max_pixels / (w * h)) ** 0.5
            frame = frame.reformat(
                width=max(2, int(w * k)) // 2 * 2, height=max(2, int(h * k)) // 2 * 2
            )
            w, h = frame.width, frame.height
            resized = True
        grey = frame.to_ndarray(format="gray")  # the luma plane: no colour conversion
        stats = frame_stats(grey)
        decision = self.gate.decide(stats.thumb, now)
        jpeg = None
        if decision.send:  # colour only for the frames that go out
            bgr = frame.to_ndarray(format="bgr24")
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.s.jpeg_quality])
            jpeg = buf.tobytes() if ok else None
        ts_ms = int(now * 1000)
        # the sequence continues across restarts (observation ids are built from it)
        self.seq = max(self.seq + 1, ts_ms)
        meta = FrameMeta(camera_id=self.src.camera, ts_ms=ts_ms, seq=self.seq, width=w, height=h)
        if not offer(self.out, Sampled(meta, stats, decision, jpeg, resized)):
            self.dropped += 1
