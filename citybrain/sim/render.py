"""Synthetic street-camera frames drawn with OpenCV primitives.

Frames only need to look enough like a street for the vision stage to have something real to
chew on: the road follows the camera's zones, so an event drawn in the zone that watches its
category is seen where the zone logic downstream expects it. The static scene of a camera is
drawn once and cached; per frame only vehicles, events and sensor noise are drawn (fast).

`render_annotated` also says where it drew every object of a detector class (boxes for
training data): each shape is mirrored onto a map of object ids, so occlusion is exact.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import cv2
import numpy as np

from citybrain.core.city import Camera, Zone
from citybrain.sim.scenario import SimEvent

Color = tuple[int, int, int]  # BGR
Poly = list[tuple[float, float]]  # normalised (x, y)

# The standard geometry of config/city/cameras.yaml, used when a camera lacks a zone.
_DEFAULT_ZONES: dict[str, Poly] = {
    "roadway": [(0.15, 1.0), (0.85, 1.0), (0.58, 0.45), (0.42, 0.45)],
    "kerb": [(0.85, 1.0), (1.0, 1.0), (1.0, 0.62), (0.62, 0.45), (0.58, 0.45)],
    "bins": [(0.0, 0.55), (0.2, 0.55), (0.2, 1.0), (0.0, 1.0)],
}
_GROUND_EVENTS = ("pothole", "flooding")  # drawn under the traffic
_SKY_EVENTS = ("smoke_fire",)  # drawn over everything
# Every category the renderer can show (others pass through unseen).
DRAWN_CATEGORIES = (
    *_GROUND_EVENTS,
    "fallen_tree",
    "road_construction",
    "illegal_parking",
    "overflowing_bin",
    *_SKY_EVENTS,
)
# Every class render_annotated may box (traffic is drawn in every frame).
BOX_CLASSES = (
    "vehicle",
    "bin_overflow",
    "flood_water",
    "smoke",
    "fire",
    "pothole",
    "fallen_tree",
    "traffic_cone",
    "barrier",
)
NIGHT_SHADE = 0.42


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
    return list(_DEFAULT_ZONES[zone_id])


def zone_for(camera: Camera, category: str) -> Zone | None:
    """The smallest zone of the camera that watches the category (roadway before whole scene)."""
    watching = [z for z in camera.zones if category in z.categories]
    if not watching:
        return None
    return min(watching, key=lambda z: _area(list(z.polygon)))


def _area(poly: Sequence[tuple[float, float]]) -> float:
    return 0.5 * abs(
        sum(
            x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(poly, [*poly[1:], poly[0]], strict=True)
        )
    )


def _px(poly: Poly, w: int, h: int) -> list[tuple[float, float]]:
    return [(x * (w - 1), y * (h - 1)) for x, y in poly]


def _span_at(poly: list[tuple[float, float]], y: float) -> tuple[float, float]:
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


def _y_range(poly: list[tuple[float, float]]) -> tuple[float, float]:
    ys = [p[1] for p in poly]
    return min(ys), max(ys)


def _ipts(points: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.array([[round(x), round(y)] for x, y in points], dtype=np.int32)


def _shade(color: Color, k: float) -> Color:
    return (int(color[0] * k), int(color[1] * k), int(color[2] * k))


def _stable_rng(*parts: str) -> np.random.Generator:
    """Same parts, same draws, in every process (str hash() is salted, crc32 is not)."""
    return np.random.default_rng([zlib.crc32(p.encode()) for p in parts])


class _Road:
    """The carriageway in pixels: edges at any depth, for perspective placement."""

    def __init__(self, camera: Camera, w: int, h: int) -> None:
        self.poly = _px(zone_polygon(camera, "roadway"), w, h)
        self.top, self.bottom = _y_range(self.poly)
        self.w, self.h = w, h

    def y_at(self, depth: float) -> float:
        """depth 0 = horizon end of the road, 1 = nearest the camera."""
        return self.top + (self.bottom - self.top) * depth

    def span(self, y: float) -> tuple[float, float]:
        return _span_at(self.poly, y)


# --------------------------------------------------------------------------- annotation

MIN_BOX_PX = 4  # boxes narrower or shorter than this many pixels are left out
MIN_VISIBLE = 0.5  # nor are objects with less than this share of their pixels still in view
_MAX_OBJECTS = 255  # ids of the uint8 object map; 0 is scenery

Point = Sequence[int]


@dataclass(frozen=True)
class Box:
    """Where one object of a detector class was drawn: normalised (0..1) frame coordinates."""

    cls: str
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def cx(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def cy(self) -> float:
        return (self.y1 + self.y2) / 2

    @property
    def w(self) -> float:
        return self.x2 - self.x1

    @property
    def h(self) -> float:
        return self.y2 - self.y1


@dataclass
class _Drawn:
    cls: str
    id: int
    roi: tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive), clipped to the frame
    pixels: int  # how many pixels it covered when drawn


class _Pen:
    """Draws on a frame and, when annotating, the same shapes on a map of object ids.

    Whatever is drawn later overwrites the ids under it, so at the end the map says which
    object each pixel shows; an object's box is the extent of the pixels still showing it.
    Drawing outside `obj` (scenery, halos) marks nothing.
    """

    def __init__(self, img: np.ndarray, annotate: bool = False) -> None:
        self.img = img
        self.h, self.w = img.shape[:2]
        self.ids: np.ndarray | None = np.zeros((self.h, self.w), np.uint8) if annotate else None
        self.mark_rows: int | None = None  # while set, marks only rows above it
        self._drawn: list[_Drawn] = []
        self._cur = 0
        self._roi = [0, 0, 0, 0]
        self._scratch: np.ndarray | None = None  # marks of a translucent object

    @contextmanager
    def obj(self, cls: str, translucent: bool = False) -> Iterator[None]:
        """Everything drawn inside is one object of detector class `cls`.

        A translucent object (water, smoke) hides nothing: what shows through it keeps its
        pixels, and it claims only those that showed bare scenery.
        """
        if self.ids is None or len(self._drawn) >= _MAX_OBJECTS:
            yield
            return
        self._cur = len(self._drawn) + 1
        self._roi = [self.w, self.h, 0, 0]
        self._scratch = np.zeros_like(self.ids) if translucent else None
        try:
            yield
        finally:
            x1, y1 = max(0, self._roi[0]), max(0, self._roi[1])
            x2, y2 = min(self.w, self._roi[2]), min(self.h, self._roi[3])
            if x2 > x1 and y2 > y1:
                ids = self.ids[y1:y2, x1:x2]
                if self._scratch is not None:
                    ids[(self._scratch[y1:y2, x1:x2] != 0) & (ids == 0)] = self._cur
                n = int(np.count_nonzero(ids == self._cur))
                if n:
                    self._drawn.append(_Drawn(cls, self._cur, (x1, y1, x2, y2), n))
            self._cur = 0
            self._scratch = None

    def boxes(self) -> list[Box]:
        """One box per object still mostly in view and not tiny, in drawing order."""
        if self.ids is None:
            return []
        out: list[Box] = []
        for d in self._drawn:
            x1, y1, x2, y2 = d.roi
            mine = self.ids[y1:y2, x1:x2] == d.id
            seen = int(np.count_nonzero(mine))
            if seen == 0 or seen < MIN_VISIBLE * d.pixels:
                continue
            cols = np.flatnonzero(mine.any(axis=0))
            rows = np.flatnonzero(mine.any(axis=1))
            bx1, bx2 = x1 + int(cols[0]), x1 + int(cols[-1]) + 1
            by1, by2 = y1 + int(rows[0]), y1 + int(rows[-1]) + 1
            if bx2 - bx1 < MIN_BOX_PX or by2 - by1 < MIN_BOX_PX:
                continue
            out.append(Box(d.cls, bx1 / self.w, by1 / self.h, bx2 / self.w, by2 / self.h))
        return out

    # Each primitive draws on `on` (default the frame) exactly as cv2 would, then marks the
    # same shape (without anti-aliasing) on the id map when an object is being drawn.

    def _marking(self, mark: bool) -> np.ndarray | None:
        if not mark or self.ids is None or not self._cur:
            return None
        ids = self.ids if self._scratch is None else self._scratch
        return ids if self.mark_rows is None else ids[: max(0, self.mark_rows)]

    def _grow(self, x1: float, y1: float, x2: float, y2: float, pad: float) -> None:
        r = self._roi
        r[0] = min(r[0], math.floor(x1 - pad))
        r[1] = min(r[1], math.floor(y1 - pad))
        r[2] = max(r[2], math.ceil(x2 + pad) + 1)
        r[3] = max(r[3], math.ceil(y2 + pad) + 1)

    def fill_poly(
        self,
        pts: np.ndarray,
        color: Color,
        line_type: int = cv2.LINE_8,
        *,
        on: np.ndarray | None = None,
    ) -> None:
        cv2.fillPoly(self.img if on is None else on, [pts], color, line_type)
        ids = self._marking(True)
        if ids is not None:
            cv2.fillPoly(ids, [pts], self._cur)
            self._grow(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max(), 1)

    def rect(self, p1: Point, p2: Point, color: Color, thickness: int = -1) -> None:
        cv2.rectangle(self.img, p1, p2, color, thickness)
        ids = self._marking(True)
        if ids is not None:
            cv2.rectangle(ids, p1, p2, self._cur, thickness)
            xs, ys = (int(p1[0]), int(p2[0])), (int(p1[1]), int(p2[1]))
            self._grow(min(xs), min(ys), max(xs), max(ys), max(1, thickness) + 1)

    def line(
        self, p1: Point, p2: Point, color: Color, thickness: int, line_type: int = cv2.LINE_8
    ) -> None:
        cv2.line(self.img, p1, p2, color, thickness, line_type)
        ids = self._marking(True)
        if ids is not None:
            cv2.line(ids, p1, p2, self._cur, thickness)
            xs, ys = (int(p1[0]), int(p2[0])), (int(p1[1]), int(p2[1]))
            self._grow(min(xs), min(ys), max(xs), max(ys), thickness + 1)

    def circle(
        self,
        center: Point,
        radius: int,
        color: Color,
        thickness: int = -1,
        line_type: int = cv2.LINE_8,
        *,
        on: np.ndarray | None = None,
        mark: bool = True,
    ) -> None:
        cv2.circle(self.img if on is None else on, center, radius, color, thickness, line_type)
        ids = self._marking(mark)
        if ids is not None:
            cv2.circle(ids, center, radius, self._cur, thickness)
            x, y = int(center[0]), int(center[1])
            self._grow(x - radius, y - radius, x + radius, y + radius, max(1, thickness) + 1)

    def ellipse(self, center: Point, axes: tuple[int, int], color: Color) -> None:
        """A filled, upright ellipse."""
        cv2.ellipse(self.img, center, axes, 0, 0, 360, color, -1)
        ids = self._marking(True)
        if ids is not None:
            cv2.ellipse(ids, center, axes, 0, 0, 360, self._cur, -1)
            x, y = int(center[0]), int(center[1])
            self._grow(x - axes[0], y - axes[1], x + axes[0], y + axes[1], 1)


# --------------------------------------------------------------------------- static scene


@lru_cache(maxsize=64)
def _background(camera: Camera, w: int, h: int, night: bool) -> np.ndarray:
    """Sky, buildings, pavement, road and markings: what never moves in a camera's view."""
    rng = _stable_rng("scene", camera.id)
    road = _Road(camera, w, h)
    horizon = int(road.top)
    img = np.empty((h, w, 3), np.uint8)

    top, low = ((235, 190, 140), (250, 225, 205)) if not night else ((45, 22, 12), (75, 50, 35))
    ramp = np.linspace(0.0, 1.0, max(1, horizon))[:, None]
    sky = np.array(top)[None, :] * (1 - ramp) + np.array(low)[None, :] * ramp
    img[:horizon] = sky[:, None, :].astype(np.uint8)
    if night:
        for _ in range(25):
            sx, sy = int(rng.integers(0, w)), int(rng.integers(0, max(1, horizon // 2)))
            img[sy, sx] = (230, 230, 230)

    shade = NIGHT_SHADE if night else 1.0
    x = -int(rng.integers(0, 30))
    while x < w:
        bw = int(w * rng.uniform(0.07, 0.17))
        bh = int(horizon * rng.uniform(0.35, 0.9))
        base = int(rng.integers(90, 170))
        body = _shade(
            (base, base + int(rng.integers(-15, 15)), base + int(rng.integers(0, 30))), shade
        )
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon), body, -1)
        wx, wy = max(3, bw // 8), max(3, bh // 10)
        for yy in range(horizon - bh + wy, horizon - wy, 2 * wy):
            for xx in range(x + wx, x + bw - wx, 2 * wx):
                if night:
                    lit = rng.random() < 0.45
                    win: Color = (90, 205, 250) if lit else (35, 30, 30)
                else:
                    win = (205, 190, 165) if rng.random() < 0.8 else (120, 110, 100)
                cv2.rectangle(img, (xx, yy), (xx + wx - 1, yy + wy - 1), win, -1)
        x += bw + int(rng.integers(0, 6))

    img[horizon:] = _shade((165, 168, 170), shade)
    kerb = _px(zone_polygon(camera, "kerb"), w, h)
    bins = _px(zone_polygon(camera, "bins"), w, h)
    cv2.fillPoly(img, [_ipts(bins)], _shade((150, 160, 168), shade))
    cv2.fillPoly(img, [_ipts(kerb)], _shade((105, 108, 112), shade))
    cv2.fillPoly(img, [_ipts(road.poly)], _shade((78, 78, 80), shade))
    line = _shade((235, 235, 235), max(shade, 0.6))
    cv2.polylines(img, [_ipts(road.poly)], True, line, 2, cv2.LINE_AA)
    # dashed lane lines, longer nearer the camera
    for frac in (1 / 3, 2 / 3):
        depth = 0.02
        while depth < 1.0:
            d2 = min(1.0, depth + 0.04 + 0.12 * depth)
            pts = []
            for d in (depth, d2):
                y = road.y_at(d)
                left, right = road.span(y)
                pts.append((left + (right - left) * frac, y))
            cv2.line(
                img, _ipts(pts[:1])[0], _ipts(pts[1:])[0], line, max(1, round(3 * d2)), cv2.LINE_AA
            )
            depth = d2 + 0.05 + 0.1 * d2
    # lamp posts on the left pavement; glowing at night
    for depth in (0.25, 0.7):
        y = road.y_at(depth)
        left, _ = road.span(y)
        px = int(left - (12 + 30 * depth))
        height = int(20 + 110 * depth)
        cv2.line(
            img,
            (px, int(y)),
            (px, int(y) - height),
            _shade((60, 60, 60), shade),
            max(1, int(4 * depth)),
        )
        head = (px + int(8 * depth) + 2, int(y) - height)
        if night:
            cv2.circle(img, head, int(6 + 14 * depth), (120, 210, 245), -1, cv2.LINE_AA)
        cv2.circle(
            img, head, max(2, int(5 * depth)), (200, 240, 255) if night else (190, 190, 190), -1
        )
    _draw_bin(_Pen(img), bins, shade, open_lid=False)  # a tidy bin is scenery, not a detection
    return img


def _draw_bin(
    pen: _Pen, bins: list[tuple[float, float]], shade: float, open_lid: bool
) -> tuple[int, int, int, int]:
    """The pavement's wheelie bin; returns its box (x1, y1, x2, y2)."""
    x1z = min(p[0] for p in bins)
    x2z = max(p[0] for p in bins)
    y1z, y2z = _y_range(bins)
    bw = int((x2z - x1z) * 0.42)
    bh = int((y2z - y1z) * 0.3)
    cx = int(x1z + (x2z - x1z) * 0.5)
    by = int(y1z + (y2z - y1z) * 0.72)
    box = (cx - bw // 2, by - bh, cx + bw // 2, by)
    pen.rect(box[:2], box[2:], _shade((45, 125, 35), shade), -1)
    pen.rect(box[:2], box[2:], _shade((25, 70, 20), shade), 1)
    for k in (1, 2):
        xx = box[0] + k * bw // 3
        pen.line((xx, box[1] + 3), (xx, box[3] - 3), _shade((35, 100, 28), shade), 1)
    lid_y = box[1] - max(2, bh // 12)
    if open_lid:
        pen.line(
            (box[0], box[1]),
            (box[0] - bw // 5, lid_y - bh // 3),
            _shade((25, 80, 20), shade),
            max(2, bh // 10),
        )
    else:
        pen.rect((box[0] - 2, lid_y), (box[2] + 2, box[1]), _shade((25, 80, 20), shade), -1)
    wheel = max(2, bw // 10)
    for xx in (box[0] + wheel, box[2] - wheel):
        pen.circle((xx, box[3]), wheel, (20, 20, 20), -1)
    return box


# --------------------------------------------------------------------------- moving things


def _draw_car(
    pen: _Pen,
    cx: float,
    bottom: float,
    width: float,
    color: Color,
    shade: float,
    night: bool,
    facing_camera: bool,
    hazard: bool = False,
) -> None:
    """A car seen from behind or in front: body, cabin with windows, wheels, lights."""
    w2 = width / 2
    height = width * 0.62
    body_top = bottom - height * 0.55
    wheel_w = max(1, int(width * 0.09))
    wheel_h = max(1, int(height * 0.14))
    for wx in (cx - w2 * 0.72, cx + w2 * 0.72):
        pen.ellipse((int(wx), int(bottom)), (wheel_w, wheel_h), (18, 18, 18))
    pen.rect(
        (int(cx - w2), int(body_top)),
        (int(cx + w2), int(bottom - wheel_h * 0.5)),
        _shade(color, shade),
        -1,
    )
    cabin = [
        (cx - w2 * 0.78, body_top),
        (cx - w2 * 0.58, bottom - height),
        (cx + w2 * 0.58, bottom - height),
        (cx + w2 * 0.78, body_top),
    ]
    pen.fill_poly(_ipts(cabin), _shade(color, shade * 0.85))
    glass = [
        (cx - w2 * 0.66, body_top - 1),
        (cx - w2 * 0.52, bottom - height * 0.92),
        (cx + w2 * 0.52, bottom - height * 0.92),
        (cx + w2 * 0.66, body_top - 1),
    ]
    pen.fill_poly(_ipts(glass), _shade((95, 75, 60), shade))
    ly = int(body_top + height * 0.18)
    lr = max(1, int(width * 0.07))
    if facing_camera:
        lamp: Color = (215, 245, 255) if night else (200, 215, 220)
    else:
        lamp = (40, 40, 235) if night else (50, 50, 170)
    if hazard:
        lamp = (40, 170, 255)
    for lx in (cx - w2 * 0.75, cx + w2 * 0.75):
        pen.circle((int(lx), ly), lr, lamp, -1)
        if night and facing_camera:  # headlight glare: light, not car
            pen.circle((int(lx), ly), lr * 3, (150, 210, 235), 1, cv2.LINE_AA, mark=False)
    pen.rect(
        (int(cx - w2 * 0.2), ly - lr // 2),
        (int(cx + w2 * 0.2), ly + lr // 2),
        (220, 220, 220) if not night else (90, 90, 90),
        -1,
    )


_CAR_COLORS: tuple[Color, ...] = (
    (40, 40, 190),
    (200, 200, 200),
    (30, 30, 30),
    (170, 110, 40),
    (60, 150, 210),
    (120, 120, 130),
)


def _draw_traffic(
    pen: _Pen, camera: Camera, road: _Road, t_s: float, night: bool, shade: float
) -> None:
    """Four to six cars moving along the lanes; where each is follows from t alone."""
    rng = _stable_rng("traffic", camera.id)
    cars = []
    for _ in range(int(rng.integers(4, 7))):
        lane = int(rng.integers(0, 3))
        toward = lane == 0 or (lane == 1 and rng.random() < 0.5)
        period = float(rng.uniform(9.0, 20.0))
        phase = float(rng.random())
        color = _CAR_COLORS[int(rng.integers(0, len(_CAR_COLORS)))]
        p = (phase + t_s / period) % 1.0
        depth = p if toward else 1.0 - p
        depth = depth**1.7  # cars crawl far away and sweep past close by
        if depth < 0.04:
            continue
        cars.append((depth, lane, toward, color))
    for depth, lane, toward, color in sorted(cars):
        y = road.y_at(depth)
        left, right = road.span(y)
        cx = left + (right - left) * (lane + 0.5) / 3
        with pen.obj("vehicle"):
            _draw_car(pen, cx, y, (right - left) * 0.22, color, shade, night, toward)


# --------------------------------------------------------------------------- events


def _blend(
    img: np.ndarray, overlay: np.ndarray, alpha: float, box: tuple[int, int, int, int]
) -> None:
    """Alpha-blend overlay into img inside box only (cheap translucency)."""
    h, w = img.shape[:2]
    x1, y1 = max(0, box[0]), max(0, box[1])
    x2, y2 = min(w, box[2]), min(h, box[3])
    if x2 <= x1 or y2 <= y1:
        return
    roi = img[y1:y2, x1:x2]
    cv2.addWeighted(overlay[y1:y2, x1:x2], alpha, roi, 1 - alpha, 0, dst=roi)


def _irregular(
    cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator, n: int = 14
) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    radii = rng.uniform(0.7, 1.15, n)
    return _ipts(
        [
            (cx + rx * r * math.cos(a), cy + ry * r * math.sin(a))
            for a, r in zip(angles, radii, strict=True)
        ]
    )


def _pothole(
    pen: _Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = _y_range(poly)
    for k in range(int(rng.integers(1, 3))):
        y = top + (bottom - top) * rng.uniform(0.5, 0.82)
        left, right = _span_at(poly, y)
        span = right - left
        cx = left + span * rng.uniform(0.3, 0.7)
        rx = span * rng.uniform(0.09, 0.14) * (0.6 if k else 1.0)
        with pen.obj("pothole"):
            outline = _irregular(cx, y, rx, rx * 0.38, rng)
            pen.fill_poly(outline, _shade((110, 110, 112), shade))
            inner = _irregular(cx, y, rx * 0.8, rx * 0.3, rng)
            pen.fill_poly(inner, _shade((22, 24, 28), shade))


def _flooding(
    pen: _Pen,
    poly: list[tuple[float, float]],
    rng: np.random.Generator,
    t_s: float,
    shade: float,
) -> None:
    img = pen.img
    top, bottom = _y_range(poly)
    ys = np.linspace(top + (bottom - top) * rng.uniform(0.15, 0.3), bottom, 8)
    left_edge, right_edge = [], []
    for y in ys:
        lo, hi = _span_at(poly, float(y))
        wobble = (hi - lo) * 0.04
        left_edge.append((lo - wobble * rng.uniform(-1, 1.5), float(y)))
        right_edge.append((hi + wobble * rng.uniform(-1, 1.5), float(y)))
    water = _ipts(left_edge + right_edge[::-1])
    with pen.obj("flood_water", translucent=True):
        overlay = img.copy()
        pen.fill_poly(water, _shade((175, 125, 70), max(shade, 0.55)), on=overlay)
        x, y, bw, bh = cv2.boundingRect(water)
        _blend(img, overlay, 0.68, (x, y, x + bw, y + bh))
        for k in range(6):  # ripples drift with time
            yy = top + (bottom - top) * (0.35 + 0.1 * k)
            lo, hi = _span_at(poly, yy)
            off = ((t_s * 7 + k * 37) % 40) / 40 * (hi - lo) * 0.3
            x0 = lo + (hi - lo) * 0.15 + off
            pen.line(
                (int(x0), int(yy)),
                (int(x0 + (hi - lo) * 0.2), int(yy)),
                _shade((215, 185, 140), max(shade, 0.6)),
                1,
                cv2.LINE_AA,
            )


def _fallen_tree(
    pen: _Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = _y_range(poly)
    y = top + (bottom - top) * rng.uniform(0.5, 0.72)
    left, right = _span_at(poly, y)
    span = right - left
    tilt = span * rng.uniform(-0.08, 0.08)
    root = (left - span * 0.08, y + tilt)
    crown = (left + span * rng.uniform(0.75, 0.9), y - tilt)
    thick = max(3, int(span * 0.045))
    with pen.obj("fallen_tree"):
        pen.line(
            _ipts([root])[0], _ipts([crown])[0], _shade((35, 65, 105), shade), thick, cv2.LINE_AA
        )
        pen.circle(_ipts([root])[0], thick, _shade((30, 55, 90), shade), -1)
        for _ in range(5):  # branches off the crown end
            bx = crown[0] - span * rng.uniform(0.0, 0.25)
            by = crown[1] + (root[1] - crown[1]) * ((crown[0] - bx) / max(1.0, crown[0] - root[0]))
            end = (bx + span * rng.uniform(-0.05, 0.12), by - span * rng.uniform(0.04, 0.12))
            pen.line(
                (int(bx), int(by)),
                (int(end[0]), int(end[1])),
                _shade((40, 70, 110), shade),
                max(1, thick // 3),
            )
        for _ in range(9):
            fx = crown[0] + span * rng.uniform(-0.22, 0.08)
            fy = crown[1] + span * rng.uniform(-0.12, 0.03)
            green = (
                int(rng.integers(30, 60)),
                int(rng.integers(110, 165)),
                int(rng.integers(30, 70)),
            )
            pen.circle(
                (int(fx), int(fy)),
                int(span * rng.uniform(0.04, 0.08)),
                _shade(green, shade),
                -1,
                cv2.LINE_AA,
            )


def _road_construction(
    pen: _Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = _y_range(poly)
    lane = rng.uniform(0.2, 0.6)
    glow = max(shade, 0.7)  # reflective paint
    y_bar = top + (bottom - top) * rng.uniform(0.45, 0.6)
    lo, hi = _span_at(poly, y_bar)
    span = hi - lo
    bx1, bx2 = int(lo + span * lane), int(lo + span * (lane + 0.35))
    bh = max(4, int(span * 0.07))
    by = int(y_bar)
    with pen.obj("barrier"):
        for lx in (bx1 + 2, bx2 - 2):
            pen.line(
                (lx, by), (lx, by - int(bh * 1.8)), _shade((60, 60, 60), shade), max(1, bh // 4)
            )
        y1 = by - int(bh * 1.8)
        pen.rect((bx1, y1), (bx2, y1 + bh), _shade((245, 245, 245), glow), -1)
        stripe = max(3, bh)
        for sx in range(bx1 - bh, bx2, 2 * stripe):
            pts = [(sx, y1 + bh), (sx + stripe, y1 + bh), (sx + stripe + bh, y1), (sx + bh, y1)]
            clipped = [(min(max(px, bx1), bx2), py) for px, py in pts]
            pen.fill_poly(_ipts(clipped), _shade((0, 110, 240), glow))
    for k in range(int(rng.integers(3, 6))):  # cones in a line towards the camera
        yc = y_bar + (bottom - y_bar) * (0.12 + 0.17 * k)
        if yc > bottom - 2:
            break
        lo, hi = _span_at(poly, yc)
        span = hi - lo
        cx = lo + span * (lane + 0.02 * k)
        ch = span * 0.085
        cw = ch * 0.55
        cone = [
            (cx - cw / 2, yc),
            (cx + cw / 2, yc),
            (cx + cw * 0.08, yc - ch),
            (cx - cw * 0.08, yc - ch),
        ]
        with pen.obj("traffic_cone"):
            pen.rect(
                (int(cx - cw * 0.65), int(yc - ch * 0.08)),
                (int(cx + cw * 0.65), int(yc)),
                _shade((20, 70, 200), glow),
                -1,
            )
            pen.fill_poly(_ipts(cone), _shade((10, 120, 250), glow))
            ys = yc - ch * 0.55
            pen.line(
                (int(cx - cw * 0.3), int(ys)),
                (int(cx + cw * 0.3), int(ys)),
                _shade((250, 250, 250), glow),
                max(1, int(ch * 0.12)),
            )


def _illegal_parking(
    pen: _Pen,
    poly: list[tuple[float, float]],
    rng: np.random.Generator,
    t_s: float,
    shade: float,
    night: bool,
) -> None:
    top, bottom = _y_range(poly)
    y = top + (bottom - top) * rng.uniform(0.55, 0.7)
    lo, hi = _span_at(poly, y)
    color = _CAR_COLORS[int(rng.integers(0, len(_CAR_COLORS)))]
    hazard = int(t_s) % 2 == 0
    with pen.obj("vehicle"):
        _draw_car(
            pen,
            (lo + hi) / 2,
            y,
            (hi - lo) * 0.72,
            color,
            shade,
            night,
            facing_camera=False,
            hazard=hazard,
        )


def _overflowing_bin(
    pen: _Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    with pen.obj("bin_overflow"):  # the bin and the rubbish piled on and around it
        box = _draw_bin(pen, poly, shade, open_lid=True)
        bw = box[2] - box[0]
        bh = box[3] - box[1]
        colors: tuple[Color, ...] = (
            (225, 225, 225),
            (35, 35, 35),
            (70, 110, 160),
            (60, 60, 200),
            (200, 160, 60),
        )
        for _ in range(7):  # pile spilling out of the top
            cx = box[0] + bw * rng.uniform(0.0, 1.0)
            cy = box[1] - bh * rng.uniform(0.0, 0.3)
            r = bw * rng.uniform(0.14, 0.26)
            pen.fill_poly(
                _irregular(cx, cy, r, r * 0.8, rng, 9),
                _shade(colors[int(rng.integers(0, 5))], shade),
            )
        for _ in range(10):  # bags and litter around the base
            cx = box[0] + bw * rng.uniform(-0.6, 1.6)
            cy = box[3] - bh * rng.uniform(-0.1, 0.35)
            r = bw * rng.uniform(0.1, 0.24)
            pen.fill_poly(
                _irregular(cx, cy, r, r * 0.7, rng, 9),
                _shade(colors[int(rng.integers(0, 5))], shade),
            )


def _smoke_fire(pen: _Pen, road: _Road, rng: np.random.Generator, t_s: float) -> None:
    img = pen.img
    h, w = img.shape[:2]
    base_y = road.top + (road.bottom - road.top) * 0.08
    left, _ = road.span(base_y)
    bx = left - w * rng.uniform(0.04, 0.14)
    size = w * rng.uniform(0.06, 0.09)
    overlay = img.copy()
    wind = rng.uniform(0.2, 0.6)
    with pen.obj("smoke", translucent=True):
        pen.mark_rows = int(base_y) + 2  # the plume is blended in above this row only
        for k in range(12):  # puffs rise and widen; the column drifts downwind over time
            rise = (k + (t_s * 0.7) % 1.0) / 12
            cx = bx + wind * size * 4 * rise**1.3 + size * 0.2 * math.sin(t_s * 0.9 + k)
            cy = base_y - size * 0.6 - rise * h * 0.42
            grey = int(95 + 80 * rise)
            pen.circle(
                (int(cx), int(cy)),
                int(size * (0.35 + 1.3 * rise)),
                (grey, grey, grey + 4),
                -1,
                cv2.LINE_AA,
                on=overlay,
            )
        pen.mark_rows = None
        _blend(img, overlay, 0.72, (0, 0, w, int(base_y) + 2))
    flicker = 0.85 + 0.15 * math.sin(t_s * 5.0)
    with pen.obj("fire"):
        for color, scale in (((0, 90, 235), 1.0), ((0, 165, 255), 0.7), ((80, 230, 255), 0.4)):
            pts = []
            n = 7
            for i in range(n + 1):
                fx = bx - size / 2 * scale + size * scale * i / n
                tall = size * scale * flicker * (1.5 if i % 2 else 0.55) * rng.uniform(0.8, 1.1)
                pts.append((fx, base_y - (tall if 0 < i < n else 0)))
            pen.fill_poly(_ipts(pts), color, cv2.LINE_AA)


# --------------------------------------------------------------------------- frame


def render_frame(
    camera: Camera,
    events_visible: Sequence[SimEvent],
    t: datetime,
    width: int,
    height: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One BGR uint8 frame of the camera at simulated time t showing the given events.

    Event shapes are drawn from each event's own stable generator (so a pothole stays put
    from frame to frame); `rng` only feeds per-frame sensor noise and flicker.
    """
    return _render(camera, events_visible, t, width, height, rng, annotate=False)[0]


def render_annotated(
    camera: Camera,
    events_visible: Sequence[SimEvent],
    t: datetime,
    width: int,
    height: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[Box]]:
    """The frame `render_frame` draws, and a box for every object of a detector class in it.

    Boxes cover what is still visible of each car, overflowing bin (with its rubbish),
    flood, smoke plume, flames, pothole, fallen tree, cone and barrier once everything is
    drawn (water and smoke are see-through: they hide nothing under them); tiny (under
    MIN_BOX_PX) and mostly hidden (under MIN_VISIBLE) objects get none. A tidy bin is
    scenery and gets none either.
    """
    return _render(camera, events_visible, t, width, height, rng, annotate=True)


def _render(
    camera: Camera,
    events_visible: Sequence[SimEvent],
    t: datetime,
    width: int,
    height: int,
    rng: np.random.Generator,
    annotate: bool,
) -> tuple[np.ndarray, list[Box]]:
    night = is_night(t, camera.lon)
    shade = NIGHT_SHADE if night else 1.0
    t_s = t.timestamp()
    img = _background(camera, width, height, night).copy()
    pen = _Pen(img, annotate)
    road = _Road(camera, width, height)

    def zone_px(category: str, fallback: str) -> list[tuple[float, float]]:
        zone = zone_for(camera, category)
        poly = list(zone.polygon) if zone is not None else zone_polygon(camera, fallback)
        return _px(poly, width, height)

    events = sorted(events_visible, key=lambda e: e.id)
    ground = [e for e in events if e.category in _GROUND_EVENTS]
    sky = [e for e in events if e.category in _SKY_EVENTS]
    middle = [e for e in events if e not in ground and e not in sky]

    for ev in ground:
        er = _stable_rng("event", ev.id, camera.id)
        if ev.category == "pothole":
            _pothole(pen, zone_px("pothole", "roadway"), er, shade)
        else:
            _flooding(pen, zone_px("flooding", "roadway"), er, t_s, shade)
    _draw_traffic(pen, camera, road, t_s, night, shade)
    for ev in middle:
        er = _stable_rng("event", ev.id, camera.id)
        if ev.category == "fallen_tree":
            _fallen_tree(pen, zone_px("fallen_tree", "roadway"), er, shade)
        elif ev.category == "road_construction":
            _road_construction(pen, zone_px("road_construction", "roadway"), er, shade)
        elif ev.category == "illegal_parking":
            _illegal_parking(pen, zone_px("illegal_parking", "kerb"), er, t_s, shade, night)
        elif ev.category == "overflowing_bin":
            _overflowing_bin(pen, zone_px("overflowing_bin", "bins"), er, shade)
    for ev in sky:
        _smoke_fire(pen, road, _stable_rng("event", ev.id, camera.id), t_s)

    noise = rng.integers(0, 7, size=(height, width), dtype=np.uint8)  # sensor grain
    cv2.add(img, cv2.merge((noise, noise, noise)), dst=img)
    return img, pen.boxes()


def encode_jpeg(img: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes as a camera would publish them."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
