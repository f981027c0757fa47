"""One painter per event category, registered by category with the layer it is drawn in and
the zone it is drawn inside. Each event's shapes come from the event's own stable generator,
so a pothole stays put from frame to frame."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from citybrain.sim.render.geometry import Color, Road, ipts, shaded, span_at, y_range
from citybrain.sim.render.pen import Pen
from citybrain.sim.render.scenery import CAR_COLORS, draw_bin, draw_car


@dataclass(frozen=True)
class Scene:
    """What a painter may need besides its zone: the pen, the road, the time and the light."""

    pen: Pen
    road: Road
    t_s: float
    shade: float
    night: bool


Pixels = list[tuple[float, float]]


@dataclass(frozen=True)
class Painter:
    """`layer`: ground (under the traffic), middle (over it) or sky (over everything);
    `zone`: the zone drawn in when the camera has none watching the category (None: the
    painter places itself, e.g. by the road)."""

    layer: str
    zone: str | None
    draw: Callable[[Scene, Pixels, np.random.Generator], None]


def blend(
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


def irregular(
    cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator, n: int = 14
) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    radii = rng.uniform(0.7, 1.15, n)
    return ipts(
        [
            (cx + rx * r * math.cos(a), cy + ry * r * math.sin(a))
            for a, r in zip(angles, radii, strict=True)
        ]
    )


def _pothole(
    pen: Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = y_range(poly)
    for k in range(int(rng.integers(1, 3))):
        y = top + (bottom - top) * rng.uniform(0.5, 0.82)
        left, right = span_at(poly, y)
        span = right - left
        cx = left + span * rng.uniform(0.3, 0.7)
        rx = span * rng.uniform(0.09, 0.14) * (0.6 if k else 1.0)
        with pen.obj("pothole"):
            outline = irregular(cx, y, rx, rx * 0.38, rng)
            pen.fill_poly(outline, shaded((110, 110, 112), shade))
            inner = irregular(cx, y, rx * 0.8, rx * 0.3, rng)
            pen.fill_poly(inner, shaded((22, 24, 28), shade))


def _flooding(
    pen: Pen,
    poly: list[tuple[float, float]],
    rng: np.random.Generator,
    t_s: float,
    shade: float,
) -> None:
    img = pen.img
    top, bottom = y_range(poly)
    ys = np.linspace(top + (bottom - top) * rng.uniform(0.15, 0.3), bottom, 8)
    left_edge, right_edge = [], []
    for y in ys:
        lo, hi = span_at(poly, float(y))
        wobble = (hi - lo) * 0.04
        left_edge.append((lo - wobble * rng.uniform(-1, 1.5), float(y)))
        right_edge.append((hi + wobble * rng.uniform(-1, 1.5), float(y)))
    water = ipts(left_edge + right_edge[::-1])
    with pen.obj("flood_water", translucent=True):
        overlay = img.copy()
        pen.fill_poly(water, shaded((175, 125, 70), max(shade, 0.55)), on=overlay)
        x, y, bw, bh = cv2.boundingRect(water)
        blend(img, overlay, 0.68, (x, y, x + bw, y + bh))
        for k in range(6):  # ripples drift with time
            yy = top + (bottom - top) * (0.35 + 0.1 * k)
            lo, hi = span_at(poly, yy)
            off = ((t_s * 7 + k * 37) % 40) / 40 * (hi - lo) * 0.3
            x0 = lo + (hi - lo) * 0.15 + off
            pen.line(
                (int(x0), int(yy)),
                (int(x0 + (hi - lo) * 0.2), int(yy)),
                shaded((215, 185, 140), max(shade, 0.6)),
                1,
                cv2.LINE_AA,
            )


def _fallen_tree(
    pen: Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = y_range(poly)
    y = top + (bottom - top) * rng.uniform(0.5, 0.72)
    left, right = span_at(poly, y)
    span = right - left
    tilt = span * rng.uniform(-0.08, 0.08)
    root = (left - span * 0.08, y + tilt)
    crown = (left + span * rng.uniform(0.75, 0.9), y - tilt)
    thick = max(3, int(span * 0.045))
    with pen.obj("fallen_tree"):
        pen.line(
            ipts([root])[0], ipts([crown])[0], shaded((35, 65, 105), shade), thick, cv2.LINE_AA
        )
        pen.circle(ipts([root])[0], thick, shaded((30, 55, 90), shade), -1)
        for _ in range(5):  # branches off the crown end
            bx = crown[0] - span * rng.uniform(0.0, 0.25)
            by = crown[1] + (root[1] - crown[1]) * ((crown[0] - bx) / max(1.0, crown[0] - root[0]))
            end = (bx + span * rng.uniform(-0.05, 0.12), by - span * rng.uniform(0.04, 0.12))
            pen.line(
                (int(bx), int(by)),
                (int(end[0]), int(end[1])),
                shaded((40, 70, 110), shade),
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
                shaded(green, shade),
                -1,
                cv2.LINE_AA,
            )


def _road_construction(
    pen: Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    top, bottom = y_range(poly)
    lane = rng.uniform(0.2, 0.6)
    glow = max(shade, 0.7)  # reflective paint
    y_bar = top + (bottom - top) * rng.uniform(0.45, 0.6)
    lo, hi = span_at(poly, y_bar)
    span = hi - lo
    bx1, bx2 = int(lo + span * lane), int(lo + span * (lane + 0.35))
    bh = max(4, int(span * 0.07))
    by = int(y_bar)
    with pen.obj("barrier"):
        for lx in (bx1 + 2, bx2 - 2):
            pen.line(
                (lx, by), (lx, by - int(bh * 1.8)), shaded((60, 60, 60), shade), max(1, bh // 4)
            )
        y1 = by - int(bh * 1.8)
        pen.rect((bx1, y1), (bx2, y1 + bh), shaded((245, 245, 245), glow), -1)
        stripe = max(3, bh)
        for sx in range(bx1 - bh, bx2, 2 * stripe):
            pts = [(sx, y1 + bh), (sx + stripe, y1 + bh), (sx + stripe + bh, y1), (sx + bh, y1)]
            clipped = [(min(max(px, bx1), bx2), py) for px, py in pts]
            pen.fill_poly(ipts(clipped), shaded((0, 110, 240), glow))
    for k in range(int(rng.integers(3, 6))):  # cones in a line towards the camera
        yc = y_bar + (bottom - y_bar) * (0.12 + 0.17 * k)
        if yc > bottom - 2:
            break
        lo, hi = span_at(poly, yc)
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
                shaded((20, 70, 200), glow),
                -1,
            )
            pen.fill_poly(ipts(cone), shaded((10, 120, 250), glow))
            ys = yc - ch * 0.55
            pen.line(
                (int(cx - cw * 0.3), int(ys)),
                (int(cx + cw * 0.3), int(ys)),
                shaded((250, 250, 250), glow),
                max(1, int(ch * 0.12)),
            )


def _illegal_parking(
    pen: Pen,
    poly: list[tuple[float, float]],
    rng: np.random.Generator,
    t_s: float,
    shade: float,
    night: bool,
) -> None:
    top, bottom = y_range(poly)
    y = top + (bottom - top) * rng.uniform(0.55, 0.7)
    lo, hi = span_at(poly, y)
    color = CAR_COLORS[int(rng.integers(0, len(CAR_COLORS)))]
    hazard = int(t_s) % 2 == 0
    with pen.obj("vehicle"):
        draw_car(
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
    pen: Pen, poly: list[tuple[float, float]], rng: np.random.Generator, shade: float
) -> None:
    with pen.obj("bin_overflow"):  # the bin and the rubbish piled on and around it
        box = draw_bin(pen, poly, shade, open_lid=True)
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
                irregular(cx, cy, r, r * 0.8, rng, 9),
                shaded(colors[int(rng.integers(0, 5))], shade),
            )
        for _ in range(10):  # bags and litter around the base
            cx = box[0] + bw * rng.uniform(-0.6, 1.6)
            cy = box[3] - bh * rng.uniform(-0.1, 0.35)
            r = bw * rng.uniform(0.1, 0.24)
            pen.fill_poly(
                irregular(cx, cy, r, r * 0.7, rng, 9),
                shaded(colors[int(rng.integers(0, 5))], shade),
            )


def _smoke_fire(pen: Pen, road: Road, rng: np.random.Generator, t_s: float) -> None:
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
        blend(img, overlay, 0.72, (0, 0, w, int(base_y) + 2))
    flicker = 0.85 + 0.15 * math.sin(t_s * 5.0)
    with pen.obj("fire"):
        for color, scale in (((0, 90, 235), 1.0), ((0, 165, 255), 0.7), ((80, 230, 255), 0.4)):
            pts = []
            n = 7
            for i in range(n + 1):
                fx = bx - size / 2 * scale + size * scale * i / n
                tall = size * scale * flicker * (1.5 if i % 2 else 0.55) * rng.uniform(0.8, 1.1)
                pts.append((fx, base_y - (tall if 0 < i < n else 0)))
            pen.fill_poly(ipts(pts), color, cv2.LINE_AA)


# --------------------------------------------------------------------------- frame


# Drawing order within a layer is by event id; the registry's order is the order categories are
# listed in (DRAWN_CATEGORIES).
PAINTERS: dict[str, Painter] = {
    "pothole": Painter("ground", "roadway", lambda s, p, r: _pothole(s.pen, p, r, s.shade)),
    "flooding": Painter(
        "ground", "roadway", lambda s, p, r: _flooding(s.pen, p, r, s.t_s, s.shade)
    ),
    "fallen_tree": Painter("middle", "roadway", lambda s, p, r: _fallen_tree(s.pen, p, r, s.shade)),
    "road_construction": Painter(
        "middle", "roadway", lambda s, p, r: _road_construction(s.pen, p, r, s.shade)
    ),
    "illegal_parking": Painter(
        "middle",
        "kerb",
        lambda s, p, r: _illegal_parking(s.pen, p, r, s.t_s, s.shade, s.night),
    ),
    "overflowing_bin": Painter(
        "middle", "bins", lambda s, p, r: _overflowing_bin(s.pen, p, r, s.shade)
    ),
    "smoke_fire": Painter("sky", None, lambda s, p, r: _smoke_fire(s.pen, s.road, r, s.t_s)),
}
