"""Dynamic batching across cameras, with per-camera rate limits and an explicit skip policy.

A batch closes when it is full (`max_batch`) or when its oldest frame has waited `max_delay_s`.
Batches are filled round-robin over cameras, oldest first, so a camera that floods cannot
starve the others. Two policies drop frames, both on purpose and both reported to the caller
(which counts them and commits their offsets; nothing vanishes unseen):

- **rate limit**: a token bucket per camera in *event time* (the frame's timestamp), refilled
  at `fps × factor` and holding `burst_s` seconds of frames. Event time keeps a replay at any
  speed deterministic. A frame more than `burst_s` older than its camera's newest means the
  camera's clock was set back: the bucket restarts from it (else it would refill nothing, and
  so pass nothing, until the camera's clock passed the old time again).
- **overload**: a camera may have at most `camera_queue` frames waiting; a newer frame pushes
  its oldest out (a fresh frame is worth more than a stale one).

`full()` tells the stream worker to pause consumption (back-pressure) until batches drain.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Admission = Literal["queued", "rate_limited"]


@dataclass
class _Bucket:
    tokens: float
    last_ts_ms: int


@dataclass
class Waiting(Generic[T]):
    camera: str
    item: T
    since: float


@dataclass
class FrameBatcher(Generic[T]):
    max_batch: int
    max_delay_s: float
    max_queued: int
    camera_queue: int
    fps: Callable[[str], float]  # allowed frames/s per camera; 0 or less: unlimited
    burst_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _queues: OrderedDict[str, deque[Waiting[T]]] = field(default_factory=OrderedDict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _size: int = 0
    clock_resets: int = 0  # buckets restarted because a camera's clock went back

    def __len__(self) -> int:
        return self._size

    def offer(self, camera: str, ts_ms: int, item: T) -> tuple[Admission, list[T]]:
        """Queue a frame unless its camera is over its rate; also returns the frames the
        overload policy pushed out to make room."""
        if not self._allow(camera, ts_ms):
            return "rate_limited", []
        q = self._queues.setdefault(camera, deque())
        evicted = []
        while len(q) >= self.camera_queue:
            evicted.append(q.popleft().item)
            self._size -= 1
        q.append(Waiting(camera, item, self.clock()))
        self._size += 1
        return "queued", evicted

    def _allow(self, camera: str, ts_ms: int) -> bool:
        rate = self.fps(camera)
        if rate <= 0:
            return True
        burst = max(1.0, rate * self.burst_s)
        b = self._buckets.get(camera)
        if b is None:
            b = self._buckets[camera] = _Bucket(burst, ts_ms)
        if b.last_ts_ms - ts_ms > self.burst_s * 1000:  # the camera's clock went back
            self.clock_resets += 1
            b.last_ts_ms = ts_ms
        elapsed = max(0, ts_ms - b.last_ts_ms) / 1000.0  # out-of-order frames refill nothing
        b.tokens = min(burst, b.tokens + elapsed * rate)
        b.last_ts_ms = max(b.last_ts_ms, ts_ms)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        return False

    def full(self) -> bool:
        return self._size >= self.max_queued

    def oldest_wait(self) -> float:
        now = self.clock()
        return max((now - q[0].since for q in self._queues.values() if q), default=0.0)

    def ready(self) -> bool:
        """A batch should close now: enough frames, or the oldest has waited long enough."""
        if self._size >= self.max_batch:
            return True
        return self._size > 0 and self.oldest_wait() >= self.max_delay_s

    def take(self) -> list[T]:
        """Up to max_batch frames, one per camera per round, oldest first within a camera."""
        out: list[T] = []
        while len(out) < self.max_batch and self._size:
            camera, q = next(iter(self._queues.items()))
            out.append(q.popleft().item)
            self._size -= 1
            if q:
                self._queues.move_to_end(camera)  # its next frame waits for the others' turn
            else:
                del self._queues[camera]
        return out

    def put_back(self, items: list[tuple[str, T]]) -> None:
        """Return a batch the backend could not take, ahead of everything else, keeping its
        original waiting time so it goes out first when the backend is back."""
        now = self.clock() - self.max_delay_s
        for camera, item in reversed(items):
            self._queues.setdefault(camera, deque()).appendleft(Waiting(camera, item, now))
            self._queues.move_to_end(camera, last=False)
            self._size += 1

    def clear(self) -> list[T]:
        """Drop everything waiting (partitions moved; the frames will be consumed again)."""
        items = [w.item for q in self._queues.values() for w in q]
        self._queues.clear()
        self._size = 0
        return items
