"""Which sampled frames of one camera go to the detector.

Most frames of a street camera show nothing new, and passing traffic is not new either: what
the detector is for (a pothole, water, a fallen tree, a parked car, smoke) appears and stays.
So a frame is sent when a group of at least `min_blob_cells` thumbnail cells has differed
from the learnt empty scene (the background) for `hold_samples` samples in a row: a car
sweeping by leaves a cell within a sample or two, something that stays does not (and a car
passing over it keeps it different from the road). Such a frame keeps being sent while the thing stays, until it has become
background (`absorb_s`), so the camera rules get their K of N frames. A heartbeat frame every
`heartbeat_s` keeps rules and snapshots fresh; a change of the whole view (lights, a turned
camera) restarts the warm-up on the new view.

The background starts as the median of the first `warmup_frames` samples (cars move between
them, so they vanish from it), which are all sent. The first `hold_samples - 1` samples of
an event are held back: the price of not sending traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import ndimage

from citybrain.core.params import MotionGateParams


def largest_blob(mask: np.ndarray) -> int:
    """Cells in the largest 8-connected group of `mask` (0 if none)."""
    if not mask.any():
        return 0
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return int(np.bincount(labels.ravel())[1:].max()) if n else 0


class GateReason(StrEnum):
    WARMUP = "warmup"
    CHANGE = "change"
    HEARTBEAT = "heartbeat"
    VIEW = "view"  # the whole view changed: sent, and the background restarts
    OFF = "off"  # gating disabled for this camera
    QUIET = "quiet"  # not sent


@dataclass(frozen=True)
class GateDecision:
    send: bool
    reason: GateReason
    changed: float  # share of thumbnail cells with new, still content


class MotionGate:
    """One camera's gate; `decide` is called once per sampled frame, in capture order."""

    def __init__(
        self,
        params: MotionGateParams,
        enabled: bool = True,
        heartbeat_s: float | None = None,
    ) -> None:
        self.p = params
        self.enabled = enabled
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else params.heartbeat_s
        self.reset()

    def reset(self) -> None:
        """Forget the scene (a new resolution, a reconnect to another stream)."""
        self._warm: list[np.ndarray] = []
        self._bg: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._last_t: float | None = None
        self._last_sent: float | None = None
        self._run: np.ndarray | None = None  # samples in a row each cell differed

    def decide(self, thumb: np.ndarray, now: float) -> GateDecision:
        """Whether this frame (its thumbnail, float32) goes to the detector."""
        if self._prev is not None and self._prev.shape != thumb.shape:
            self.reset()
        dt = 0.0 if self._last_t is None else max(0.0, now - self._last_t)
        self._last_t = now
        prev, self._prev = self._prev, thumb
        decision = self._judge(thumb, prev, dt, now)
        if decision.send:
            self._last_sent = now
        return decision

    def _judge(
        self, thumb: np.ndarray, prev: np.ndarray | None, dt: float, now: float
    ) -> GateDecision:
        if self._bg is None:
            self._warm.append(thumb)
            if len(self._warm) >= self.p.warmup_frames:
                self._bg = np.median(np.stack(self._warm), axis=0).astype(np.float32)
                self._warm = []
            return GateDecision(True, GateReason.WARMUP, 0.0)
        t = self.p.pixel_threshold
        differs = np.abs(thumb - self._bg) > t
        moving = (
            np.abs(thumb - prev) > t if prev is not None else np.zeros_like(differs, dtype=bool)
        )
        # what stays differs from the background sample after sample, even while a car
        # passes over it; a passing car leaves a cell within a sample or two
        run = np.where(differs, (self._run if self._run is not None else 0) + 1, 0)
        self._run = np.minimum(run, 255).astype(np.uint8)
        if float((self._run >= 2).mean()) >= self.p.global_change:
            # the whole view changed and stayed so: learn it afresh, as at the start
            self._bg, self._run, self._warm = None, None, [thumb]
            return GateDecision(True, GateReason.VIEW, 1.0)
        held = self._run >= self.p.hold_samples
        changed = float(held.mean())
        blob = largest_blob(held)
        # the background follows slow light changes where nothing is in front of it, and
        # takes in what stays only slowly; cells in motion are left alone
        bg_rate = min(1.0, dt / self.p.background_s)
        absorb_rate = min(1.0, dt / self.p.absorb_s)
        rate = np.where(differs, np.where(moving, 0.0, absorb_rate), bg_rate).astype(np.float32)
        self._bg += rate * (thumb - self._bg)
        if not self.enabled:
            return GateDecision(True, GateReason.OFF, changed)
        if blob >= self.p.min_blob_cells:
            return GateDecision(True, GateReason.CHANGE, changed)
        if self._last_sent is None or now - self._last_sent >= self.heartbeat_s:
            return GateDecision(True, GateReason.HEARTBEAT, changed)
        return GateDecision(False, GateReason.QUIET, changed)
