"""The motion gate on frames the simulator renders: passing traffic and sensor grain are not
news, an event that appears and stays is; heartbeats, warm-up, a changed view, gating off."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from citybrain.config.cameras import MotionGateSettings
from citybrain.core.city import City
from citybrain.core.frame_stats import frame_stats
from citybrain.core.motion_gate import GateReason, MotionGate
from citybrain.sim.clips import event, street_frames

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)  # daytime
SECONDS = 120


def thumbs(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [frame_stats(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)).thumb for f in frames]


@pytest.fixture(scope="module")
def quiet(city: City) -> list[np.ndarray]:
    """Two minutes of one camera at 1 fps: traffic only."""
    return thumbs([f for f, _ in street_frames(city.cameras[0], T0, SECONDS, 1.0, seed=1)])


@pytest.fixture(scope="module")
def eventful(city: City) -> tuple[list[np.ndarray], list[bool]]:
    """Four minutes: a pothole from 1:00 to 2:40 and an overflowing bin from 2:50 to 3:50."""
    cam = city.cameras[0]
    evs = [
        event(cam, "pothole", T0 + timedelta(seconds=60), 100),
        event(cam, "overflowing_bin", T0 + timedelta(seconds=170), 60),
    ]
    pairs = list(street_frames(cam, T0, 240, 1.0, events=evs, seed=1))
    return thumbs([f for f, _ in pairs]), [shows for _, shows in pairs]


def run(gate: MotionGate, ts: list[np.ndarray]) -> list[GateReason]:
    return [gate.decide(t, float(i)).reason for i, t in enumerate(ts)]


def test_traffic_alone_sends_few_frames(quiet: list[np.ndarray]) -> None:
    reasons = run(MotionGate(MotionGateSettings()), quiet)
    sent = [r for r in reasons if r is not GateReason.QUIET]
    assert len(sent) / len(reasons) <= 0.20, reasons
    warmup = MotionGateSettings().warmup_frames
    assert reasons[:warmup] == [GateReason.WARMUP] * warmup
    # a heartbeat at least every heartbeat_s keeps rules and snapshots fresh
    times = [i for i, r in enumerate(reasons) if r is not GateReason.QUIET]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 60


def test_event_frames_are_kept(eventful: tuple[list[np.ndarray], list[bool]]) -> None:
    ts, shows = eventful
    reasons = run(MotionGate(MotionGateSettings()), ts)
    event_frames = [i for i, s in enumerate(shows) if s]
    assert len(event_frames) >= 150
    kept = [i for i in event_frames if reasons[i] is not GateReason.QUIET]
    assert len(kept) / len(event_frames) >= 0.95
    # the frames that show nothing are still mostly held back (warm-up and heartbeats aside)
    quiet = [r for i, r in enumerate(reasons) if not shows[i]]
    assert sum(r is GateReason.CHANGE for r in quiet) / len(quiet) <= 0.10


def test_gating_off_sends_every_frame(quiet: list[np.ndarray]) -> None:
    reasons = run(MotionGate(MotionGateSettings(), enabled=False), quiet[:20])
    assert GateReason.QUIET not in reasons


def test_a_changed_view_restarts_the_background(quiet: list[np.ndarray]) -> None:
    gate = MotionGate(MotionGateSettings())
    run(gate, quiet[:30])
    night = [t * 0.42 for t in quiet[30:80]]  # the lights go down at once
    reasons = [gate.decide(t, 30.0 + i).reason for i, t in enumerate(night)]
    view = reasons.index(GateReason.VIEW)
    assert view <= 1  # once the change held for two samples
    warmup = MotionGateSettings().warmup_frames
    assert set(reasons[view + 1 : view + warmup]) == {GateReason.WARMUP}
    assert sum(r is not GateReason.QUIET for r in reasons[view + warmup :]) <= 1


def test_a_new_resolution_starts_over(quiet: list[np.ndarray]) -> None:
    gate = MotionGate(MotionGateSettings())
    run(gate, quiet[:20])
    small = quiet[20][::2, ::2].copy()
    assert gate.decide(small, 20.0).reason is GateReason.WARMUP
