"""Frame geometry of the synthetic city: zones in pixels, the road's perspective, time of day."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from citybrain.core.city import Camera, Zone

Color = tuple[int, int, int]  # BGR
Poly = list[tuple[float, float]]  # normalised (x, y)

# The standard geometry of config/city/cameras.yaml, used when a camera lacks a zone.
DEFAULT_ZONES: dict[str, Poly] = {
    "roadway": [(0.15, 1.0), (0.85, 1.0), (0.58, 0.45), (0.42, 0.45)],
    "kerb": [(0.85, 1.0), (1.0, 1.0), (1.0, 0.62), (0.62, 0.45), (0.58, 0.45)],
    "bins": [(0.0, 0.55), (0.2, 0.55), (0.2, 1.0), (0.0, 1.0)],
}
NIGHT_SHADE = 0.42  # how much darker everything is drawn at night


def local_hour(t: datetime, lon: float) -> float:
    """Mean solar hour at the camera: UTC shifted by longitude (15 degrees an hour)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("simulated time must be timezone-aware")
    return (t.timestamp() / 3600.0 + lon / 15.0) % 24.0


def is_night(t: datetime, lon: float) -> bool:
    """Dark from 18:30 to 06:00 local solar time."""
    hour = local_hour(t, lon)
    return hour >= 18.5 or hour < 6.0


def zone_polygon(camera: Camera, zone_id: str) -> Poly:
    """A camera's zone polygon by id, or the standard one when the camera has none."""
    for z in camera.zones:
        if z.id == zone_id:
            return [tuple(p) for p in z.polygon]  # type: ignore[misc]
    return list(DEFAULT_ZONES[zone_id])


def zone_for(camera: Camera, category: str) -> Zone | None:
    """The smallest zone of the camera that watches the category (roadway before whole scene)."""
    watching = [z for z in camera.zones if category in z.categories]
    if not watching:
        return None
    return min(watching, key=lambda z: area(list(z.polygon)))


def area(poly: Sequence[tuple[float, float]]) -> float:
    return 0.5 * abs(
        sum(
            x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(poly, [*poly[1:], poly[0]], strict=True)
        )
    )


def to_px(poly: Poly, w: int, h: int) -> list[tuple[float, float]]:
    return [(x * (w - 1), y * (h - 1)) for x, y in poly]


def span_at(poly: list[tuple[float, float]], y: float) -> tuple[float, float]:
    """Leftmost and rightmost x of a (pixel) polygon on the horizontal line at y."""
    xs: list[float] = []
    for (x1, y1), (x2, y2) in zip(poly, [*poly[1:], poly[0]], strict=True):
        lo, hi = min(y1, y2), max(y1, y2)
        if lo <= y <= hi:
            if y1 == y2:
                xs += [x1, x2]
            else:
                xs.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
    if not xs:
        cx = sum(p[0] for p in poly) / len(poly)
        return cx, cx
    return min(xs), max(xs)


def y_range(poly: list[tuple[float, float]]) -> tuple[float, float]:
    ys = [p[1] for p in poly]
    return min(ys), max(ys)


def ipts(points: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.array([[round(x), round(y)] for x, y in points], dtype=np.int32)


def shaded(color: Color, k: float) -> Color:
    return (int(color[0] * k), int(color[1] * k), int(color[2] * k))


def stable_rng(*parts: str) -> np.random.Generator:
    """Same parts, same draws, in every process (str hash() is salted, crc32 is not)."""
    return np.random.default_rng([zlib.crc32(p.encode()) for p in parts])


class Road:
    """The carriageway in pixels: edges at any depth, for perspective placement."""

    def __init__(self, camera: Camera, w: int, h: int) -> None:
        self.poly = to_px(zone_polygon(camera, "roadway"), w, h)
        self.top, self.bottom = y_range(self.poly)
        self.w, self.h = w, h

    def y_at(self, depth: float) -> float:
        """depth 0 = horizon end of the road, 1 = nearest the camera."""
        return self.top + (self.bottom - self.top) * depth

    def span(self, y: float) -> tuple[float, float]:
        return span_at(self.poly, y)
