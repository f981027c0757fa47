"""What the motion gate and the health classifier look at in a frame, measured once.

Everything is taken from the grey picture with NumPy only (the core opens no codec): a small
block-averaged thumbnail (sensor noise averages out, so it shows what is in the scene), a
quarter-resolution picture for sharpness, and a strided sample that keeps the noise (a live
sensor never sends the same pixels twice; a frozen stream does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB_COLUMNS = 80  # thumbnail cells across: a pothole at 1080p still covers a few
SHARP_COLUMNS = 320
SAMPLE_STEP = 4


@dataclass(frozen=True)
class FrameStats:
    """A sampled frame's measurements."""

    width: int
    height: int
    luma: float  # mean grey level, 0..255
    contrast: float  # grey-level standard deviation of the thumbnail
    sharpness: float  # Laplacian energy over grey variance (contrast-free)
    thumb: np.ndarray  # float32 block means, about THUMB_COLUMNS across
    sample: np.ndarray  # uint8, every SAMPLE_STEP-th pixel: keeps the sensor's noise


def block_mean(grey: np.ndarray, columns: int) -> np.ndarray:
    """Area-average `grey` down to about `columns` cells across (float32)."""
    h, w = grey.shape
    k = max(1, w // columns)
    hh, ww = (h // k) * k, (w // k) * k
    if hh == 0 or ww == 0:
        return grey.astype(np.float32)
    cropped = grey[:hh, :ww].astype(np.float32)
    return cropped.reshape(hh // k, k, ww // k, k).mean(axis=(1, 3), dtype=np.float32)


def sharpness(grey_small: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian divided by the picture's variance: high where edges
    are crisp, and the same for a dim and a bright picture of one scene."""
    g = grey_small
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    var = float(g.var())
    return float(np.mean(lap * lap)) / (var + 1.0)


def frame_stats(grey: np.ndarray) -> FrameStats:
    """Measure one grey uint8 frame (H x W)."""
    if grey.ndim != 2 or grey.size == 0:
        raise ValueError(f"expected a non-empty grey frame, got shape {grey.shape}")
    thumb = block_mean(grey, THUMB_COLUMNS)
    mid = block_mean(grey, SHARP_COLUMNS)
    return FrameStats(
        width=int(grey.shape[1]),
        height=int(grey.shape[0]),
        luma=float(thumb.mean()),
        contrast=float(thumb.std()),
        sharpness=sharpness(mid),
        thumb=thumb,
        sample=np.ascontiguousarray(grey[::SAMPLE_STEP, ::SAMPLE_STEP]),
    )


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two thumbnails (-1..1): brightness and contrast changes keep it high, a
    different or blocked view drops it. A flat picture correlates with nothing: 0."""
    if a.shape != b.shape:
        return 0.0
    da, db = a - a.mean(), b - b.mean()
    den = float(np.sqrt((da * da).sum() * (db * db).sum()))
    if den < 1e-6 * a.size or float(da.std()) < 2.0 or float(db.std()) < 2.0:
        return 0.0
    return float((da * db).sum()) / den


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two equally sized uint8 samples (inf if they differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
