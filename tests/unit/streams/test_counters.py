"""Counter names: written typed, stored flat, read back by camera health unchanged."""

from __future__ import annotations

import json

from citybrain.streams.counters import CameraCounter, CameraStat, Stat, dlq_reason, sent_to


def test_camera_counters_are_stored_under_their_flat_names_and_read_back() -> None:
    frames = CameraCounter("cam-01", CameraStat.FRAMES)
    assert frames.key == "camera.cam-01.frames"
    assert CameraCounter.parse(frames.key) == frames
    assert CameraCounter.parse("camera.cam-01.seen_ms") == ("cam-01", CameraStat.SEEN_MS)
    for other in ("camera_events.opened", "camera.cam.01.frames", "camera.cam-01.bogus", "dlq"):
        assert CameraCounter.parse(other) is None
    assert CameraStat.LAST_MS.is_time and not CameraStat.ERRORS.is_time


def test_worker_counters_keep_their_stored_names() -> None:
    counters = {Stat.CONSUMED: 3, dlq_reason("invalid_json"): 1, sent_to("t.observations"): 2}
    assert json.loads(json.dumps(counters)) == {
        "consumed": 3,
        "dlq.invalid_json": 1,
        "out.observations": 2,
    }
    assert {"consumed": 1}.get(Stat.CONSUMED) == 1  # read from the store by the enum
