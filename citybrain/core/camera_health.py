"""One camera's health from the frames it sends and the time between them.

The ways a street camera fails, worst first: offline (no frame for `offline_after_s`),
frozen (the same pixels for `frozen_s`: a live sensor's noise never repeats), covered or
turned away (for `covered_s` the picture no longer correlates with the camera's usual view, or
is flat), too dark (mean grey level under `dark_luma` for `dark_s`), blurred (sharpness under
`blur_ratio` of its usual sharpness for `blur_s`). The usual view and sharpness are learnt
from healthy frames only, slowly (`reference_s`), so a change that stays is not learnt away.
The state is the worst condition that has held long enough; each change is reported once,
with the time it began.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from citybrain.core.frame_stats import FrameStats, mean_abs_diff, similarity
from citybrain.core.params import CameraHealthParams

FLAT_CONTRAST = 3.0  # grey-level deviation of a thumbnail below which nothing is visible


class HealthState(StrEnum):
    STARTING = "starting"
    ONLINE = "online"
    OFFLINE = "offline"
    FROZEN = "frozen"
    COVERED = "covered"
    DARK = "dark"
    BLURRED = "blurred"

    @property
    def code(self) -> int:
        """A number for the counters and Prometheus (0 = online, higher is worse-ranked)."""
        return _CODES[self]


_CODES = {
    HealthState.ONLINE: 0,
    HealthState.BLURRED: 1,
    HealthState.DARK: 2,
    HealthState.COVERED: 3,
    HealthState.FROZEN: 4,
    HealthState.OFFLINE: 5,
    HealthState.STARTING: 6,
}
STATE_OF_CODE = {v: k for k, v in _CODES.items()}
# the conditions a frame can show, worst first
_FRAME_CONDITIONS = (
    HealthState.FROZEN,
    HealthState.COVERED,
    HealthState.DARK,
    HealthState.BLURRED,
)


@dataclass(frozen=True)
class HealthChange:
    camera: str
    state: HealthState
    previous: HealthState
    since: float  # epoch seconds the condition began
    detail: str


class CameraHealth:
    """Feed it every sampled frame (`frame`) and call `tick` now and then; both return the
    change of state they caused, if any."""

    def __init__(self, camera: str, params: CameraHealthParams, now: float) -> None:
        self.camera = camera
        self.p = params
        self.state = HealthState.STARTING
        self.since = now
        self.detail = ""
        self._started = now
        self._last_frame: float | None = None
        self._prev_sample: np.ndarray | None = None
        self._prev_t: float | None = None
        self._onset: dict[HealthState, float] = {}
        self._ref: np.ndarray | None = None
        self._ref_sharp: float | None = None
        self._last_error = ""

    def connection_error(self, reason: str) -> None:
        """The reader's latest failure, shown as the detail of an offline state."""
        self._last_error = reason

    def frame(self, s: FrameStats, now: float) -> HealthChange | None:
        if self._prev_sample is not None and self._prev_sample.shape != s.sample.shape:
            self._forget_scene()  # a new resolution: learn the view again
        if self._last_frame is not None and now - self._last_frame >= self.p.offline_after_s:
            self._onset.pop(HealthState.FROZEN, None)  # a reconnect: no longer the same run
        self._last_frame = now
        raw = self._raw_conditions(s)
        for cond in _FRAME_CONDITIONS:
            if cond in raw:
                start = self._prev_t if cond is HealthState.FROZEN else now
                self._onset.setdefault(cond, start if start is not None else now)
            else:
                self._onset.pop(cond, None)
        if not raw:
            self._learn(s, now)
        self._prev_sample, self._prev_t = s.sample, now
        return self._settle(now, raw)

    def tick(self, now: float) -> HealthChange | None:
        """Offline once no frame came for `offline_after_s` (or none since the start)."""
        last = self._last_frame if self._last_frame is not None else self._started
        if now - last >= self.p.offline_after_s and self.state is not HealthState.OFFLINE:
            never = self._last_frame is None
            why = self._last_error or "no frames"
            detail = (
                f"never connected: {why}" if never else f"no frame for {now - last:.0f} s: {why}"
            )
            return self._change(HealthState.OFFLINE, last, detail)
        return None

    def _raw_conditions(self, s: FrameStats) -> dict[HealthState, str]:
        p = self.p
        raw: dict[HealthState, str] = {}
        if self._prev_sample is not None:
            diff = mean_abs_diff(s.sample, self._prev_sample)
            if diff <= p.frozen_max_diff:
                raw[HealthState.FROZEN] = f"picture unchanged (difference {diff:.2f})"
        if s.contrast < FLAT_CONTRAST and s.luma >= p.dark_luma:
            raw[HealthState.COVERED] = f"view blocked (flat picture, deviation {s.contrast:.1f})"
        elif self._ref is not None and s.luma >= p.dark_luma:
            sim = similarity(s.thumb, self._ref)
            if sim < p.covered_similarity:
                raw[HealthState.COVERED] = f"view changed (similarity {sim:.2f} to usual view)"
        if s.luma < p.dark_luma:
            raw[HealthState.DARK] = f"mean grey level {s.luma:.0f}"
        elif (
            HealthState.COVERED not in raw
            and self._ref_sharp is not None
            and s.sharpness < p.blur_ratio * self._ref_sharp
        ):
            raw[HealthState.BLURRED] = f"sharpness {s.sharpness:.3f}, usual {self._ref_sharp:.3f}"
        return raw

    def _learn(self, s: FrameStats, now: float) -> None:
        if self._ref is None or self._ref.shape != s.thumb.shape or self._ref_sharp is None:
            self._ref, self._ref_sharp = s.thumb.copy(), s.sharpness
            return
        dt = 0.0 if self._prev_t is None else max(0.0, now - self._prev_t)
        a = min(1.0, dt / self.p.reference_s)
        self._ref += a * (s.thumb - self._ref)
        self._ref_sharp += a * (s.sharpness - self._ref_sharp)

    def _forget_scene(self) -> None:
        self._prev_sample = None
        self._prev_t = None
        self._ref = None
        self._ref_sharp = None
        self._onset.clear()

    def _settle(self, now: float, raw: dict[HealthState, str]) -> HealthChange | None:
        held = {
            HealthState.FROZEN: self.p.frozen_s,
            HealthState.COVERED: self.p.covered_s,
            HealthState.DARK: self.p.dark_s,
            HealthState.BLURRED: self.p.blur_s,
        }
        for cond in _FRAME_CONDITIONS:
            onset = self._onset.get(cond)
            if onset is not None and now - onset >= held[cond]:
                if cond is self.state:
                    return None
                return self._change(cond, onset, raw[cond])
        if self.state is HealthState.ONLINE:
            return None
        if self.state in raw:
            return None  # still showing, though it has not held long enough again
        return self._change(HealthState.ONLINE, now, "")

    def _change(self, state: HealthState, since: float, detail: str) -> HealthChange | None:
        previous = self.state
        self.state, self.since, self.detail = state, since, detail
        if previous is HealthState.STARTING and state is HealthState.ONLINE:
            return None  # a camera coming up as expected is no news
        return HealthChange(self.camera, state, previous, since, detail)
