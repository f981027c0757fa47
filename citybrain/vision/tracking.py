"""Multi-object tracking per camera with ultralytics' ByteTrack, so dwell rules can tell a car
parked at the kerb for ten minutes from ten cars driving past.

One tracker per camera (frames are keyed by camera, so a camera's frames reach one worker in
order). The adapter only turns `Detections` into the library's input and reads back which
detection got which track id; association, Kalman filtering and lost-track bookkeeping are
the library's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from ultralytics.trackers.byte_tracker import BYTETracker

from citybrain.core.zones import NO_TRACK
from citybrain.vision.detections import Detections

# Boxes are normalised (0..1); the Kalman filter is better conditioned on pixel-like numbers.
_SCALE = 1000.0


@dataclass(frozen=True)
class TrackerSettings:
    """ByteTrack's knobs (the library's bytetrack.yaml defaults, except a longer buffer:
    street cameras publish about one frame a second or slower)."""

    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 10
    match_thresh: float = 0.8
    fuse_score: bool = True


class _Boxes:
    """The slice of ultralytics' `Boxes` interface ByteTrack reads: conf, cls, xywh, masks."""

    def __init__(self, xywh: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xywh, self.conf, self.cls = xywh, conf, cls

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> _Boxes:
        return _Boxes(self.xywh[mask], self.conf[mask], self.cls[mask])


class CameraTrackers:
    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._trackers: dict[str, BYTETracker] = {}

    def forget(self, camera_id: str) -> None:
        """Start the camera's tracks over (its clock went back: motion must not run backwards)."""
        self._trackers.pop(camera_id, None)

    def update(self, camera_id: str, dets: Detections) -> Detections:
        """The frame's detections with their track ids (NO_TRACK: not tracked yet, e.g. an
        object's first sighting, which ByteTrack confirms on the next frame)."""
        tracker = self._trackers.get(camera_id)
        if tracker is None:
            tracker = self._trackers[camera_id] = BYTETracker(
                SimpleNamespace(**self.settings.__dict__)
            )
        n = len(dets)
        boxes = dets.xyxyn.astype(np.float32).reshape(-1, 4) * _SCALE
        xywh = np.stack(
            [
                (boxes[:, 0] + boxes[:, 2]) / 2,
                (boxes[:, 1] + boxes[:, 3]) / 2,
                boxes[:, 2] - boxes[:, 0],
                boxes[:, 3] - boxes[:, 1],
            ],
            axis=1,
        )
        cls = dets.class_id.astype(np.float32)
        out = tracker.update(_Boxes(xywh, dets.confidence.astype(np.float32), cls))
        ids = np.full(n, NO_TRACK, np.int64)
        for row in out.reshape(-1, 8) if len(out) else ():
            idx = int(row[7])
            if 0 <= idx < n:
                ids[idx] = int(row[4])
        return dets.with_tracker_ids(ids)
