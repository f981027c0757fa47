"""Camera health on frames the simulator renders, with the faults real cameras show: offline
(and back), frozen, covered, turned away, too dark, blurred; a change of light is none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from citybrain.config.cameras import CameraHealthSettings
from citybrain.core.camera_health import CameraHealth, HealthChange, HealthState
from citybrain.core.city import City
from citybrain.core.frame_stats import frame_stats
from citybrain.sim.clips import covered_after, street_frames

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
P = CameraHealthSettings()
LIVE = 40  # healthy seconds before a fault


@pytest.fixture(scope="module")
def clip(city: City) -> list[np.ndarray]:
    return [f for f, _ in street_frames(city.cameras[0], T0, 80, 1.0, seed=2)]


def feed(
    frames: list[np.ndarray], fault: Callable[[np.ndarray, int], np.ndarray] | None = None
) -> tuple[CameraHealth, list[HealthChange]]:
    h = CameraHealth("cam-01", P, 0.0)
    changes = []
    for i, f in enumerate(frames):
        shown = fault(f, i) if fault is not None and i >= LIVE else f
        c = h.frame(frame_stats(cv2.cvtColor(shown, cv2.COLOR_BGR2GRAY)), float(i))
        if c is not None:
            changes.append(c)
    return h, changes


def test_a_healthy_street_stays_online(clip: list[np.ndarray]) -> None:
    h, changes = feed(clip)
    assert h.state is HealthState.ONLINE and changes == []


def test_a_change_of_light_is_not_a_fault(clip: list[np.ndarray]) -> None:
    h, changes = feed(clip, lambda f, _i: (f * 0.45).astype(np.uint8))
    assert changes == [] and h.state is HealthState.ONLINE


@pytest.mark.parametrize(
    ("fault", "state", "within_s"),
    [
        (lambda f, _i: f * 0 + f[0:1, 0:1], HealthState.COVERED, P.covered_s + 1),
        (covered_after(0), HealthState.COVERED, P.covered_s + 1),
        (lambda f, _i: np.ascontiguousarray(f[::-1]), HealthState.COVERED, P.covered_s + 1),
        (lambda f, _i: (f * 0.05).astype(np.uint8), HealthState.DARK, P.dark_s + 1),
        (lambda f, _i: cv2.GaussianBlur(f, (0, 0), 5), HealthState.BLURRED, P.blur_s + 1),
    ],
    ids=["covered-flat", "covered-grain", "turned-away", "dark", "blurred"],
)
def test_faults_are_named(
    clip: list[np.ndarray],
    fault: Callable[[np.ndarray, int], np.ndarray],
    state: HealthState,
    within_s: float,
) -> None:
    _h, changes = feed(clip, fault)
    assert changes, "no change reported"
    first = changes[0]
    assert first.state is state, changes
    assert first.previous is HealthState.ONLINE
    assert LIVE <= first.since <= LIVE + 1
    assert first.detail


def test_frozen_then_live_again(clip: list[np.ndarray]) -> None:
    held = clip[LIVE]
    frames = clip[:LIVE] + [held] * 30 + clip[LIVE + 30 :]
    _h, changes = feed(frames)
    assert [c.state for c in changes] == [HealthState.FROZEN, HealthState.ONLINE]
    assert changes[0].since == LIVE  # the picture stopped changing after frame LIVE
    assert "unchanged" in changes[0].detail


def test_offline_after_silence_and_back(clip: list[np.ndarray]) -> None:
    h = CameraHealth("cam-01", P, 0.0)
    h.connection_error("cannot open rtsp://10.0.0.9/cam: unreachable")
    assert h.tick(P.offline_after_s - 1) is None
    c = h.tick(P.offline_after_s)
    assert c is not None and c.state is HealthState.OFFLINE and c.previous is HealthState.STARTING
    assert "never connected" in c.detail and "unreachable" in c.detail
    assert h.tick(P.offline_after_s + 5) is None  # said once
    back = h.frame(frame_stats(cv2.cvtColor(clip[0], cv2.COLOR_BGR2GRAY)), 30.0)
    assert back is not None and back.state is HealthState.ONLINE
    h.frame(frame_stats(cv2.cvtColor(clip[1], cv2.COLOR_BGR2GRAY)), 31.0)
    gone = h.tick(31.0 + P.offline_after_s)
    assert gone is not None and gone.state is HealthState.OFFLINE and gone.since == 31.0
