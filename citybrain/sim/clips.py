"""Video clips of the synthetic city, for the camera gateway's tests, benchmark and demo.

A clip is one camera's rendered frames (traffic, sensor grain, events appearing and going)
encoded to H.264 by Debian's `ffmpeg` binary, plus the faults a real camera shows: a frozen
picture, a covered lens, darkness, a blurred lens.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from citybrain.core.city import Camera
from citybrain.errors import CityBrainError
from citybrain.sim.render import DRAWN_CATEGORIES, render_frame
from citybrain.sim.scenario import SimEvent

Fault = Callable[[np.ndarray, int], np.ndarray]  # (frame, index) -> frame shown


class NoEncoder(CityBrainError):
    """Debian's ffmpeg is not installed (`apt-get install ffmpeg`)."""


def event(camera: Camera, category: str, starts_at: datetime, seconds: float) -> SimEvent:
    """A made-up event in front of `camera` (its painter draws it where its zone is)."""
    return SimEvent(
        id=f"clip-{camera.id}-{category}-{int(starts_at.timestamp())}",
        category=category,
        lon=camera.lon,
        lat=camera.lat,
        district=camera.district,
        department="",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(seconds=seconds),
        camera_id=camera.id,
        place_en=camera.name,
        place_zh=camera.name,
        place_kind="intersection",
        streets=(),
        landmark=None,
        reported=False,
    )


def street_frames(
    camera: Camera,
    start: datetime,
    seconds: float,
    fps: float,
    size: tuple[int, int] = (640, 360),
    events: Iterable[SimEvent] = (),
    seed: int = 0,
    fault: Fault | None = None,
) -> Iterator[tuple[np.ndarray, bool]]:
    """Each frame (BGR) and whether it shows an event (one the renderer draws is active)."""
    evs = list(events)
    rng = np.random.default_rng(seed)
    width, height = size
    for i in range(round(seconds * fps)):
        t = start + timedelta(seconds=i / fps)
        visible = [e for e in evs if e.active_at(t)]
        img = render_frame(camera, visible, t, width, height, rng)
        shows = any(e.category in DRAWN_CATEGORIES for e in visible)
        yield (fault(img, i) if fault is not None else img), shows


def frozen_after(n: int) -> Fault:
    """From frame `n` on, the picture of frame `n` again and again (a stuck encoder)."""
    held: list[np.ndarray] = []

    def fault(img: np.ndarray, i: int) -> np.ndarray:
        if i < n:
            return img
        if not held:
            held.append(img.copy())
        return held[0]

    return fault


def covered_after(n: int) -> Fault:
    """From frame `n` on, a lens covered by something grey, grain still showing."""

    def fault(img: np.ndarray, i: int) -> np.ndarray:
        if i < n:
            return img
        grain = np.random.default_rng(i).integers(0, 5, size=img.shape[:2], dtype=np.uint8)
        flat = np.full_like(img, 96)
        return cv2.add(flat, cv2.merge((grain, grain, grain)))

    return fault


def write_video(
    frames: Iterable[np.ndarray],
    path: Path,
    fps: float,
    gop_s: float = 2.0,
    crf: int = 23,
    bitrate: str | None = None,
    codec: str = "libx264",
) -> Path:
    """Encode BGR frames to an MP4 with the system's ffmpeg (NoEncoder without it), H.264
    unless `codec` says otherwise (e.g. "libx265");
    `bitrate` (e.g. "4M") encodes at a camera's constant rate instead of quality `crf`."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise NoEncoder("ffmpeg is not installed: apt-get install ffmpeg")
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    cmd = [
        ffmpeg, "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
        "-c:v", codec, "-preset", "ultrafast",
        *(["-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate] if bitrate
          else ["-crf", str(crf)]),
        "-g", str(max(1, round(fps * gop_s))), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        proc.stdin.write(np.ascontiguousarray(first).tobytes())
        for f in it:
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        raise CityBrainError(f"ffmpeg failed ({rc}): {err.strip()[:300]}")
    return path
