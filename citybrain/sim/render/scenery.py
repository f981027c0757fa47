"""What every frame of a camera shows whatever happens: the static street (drawn once per
camera and cached) and the traffic moving along its lanes."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from citybrain.core.city import Camera
from citybrain.sim.render.geometry import (
    NIGHT_SHADE,
    Color,
    Road,
    ipts,
    shaded,
    stable_rng,
    to_px,
    y_range,
    zone_polygon,
)
from citybrain.sim.render.pen import Pen


@lru_cache(maxsize=64)
def background(camera: Camera, w: int, h: int, night: bool) -> np.ndarray:
    """Sky, buildings, pavement, road and markings: what never moves in a camera's view."""
    rng = stable_rng("scene", camera.id)
    road = Road(camera, w, h)
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
        body = shaded(
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

    img[horizon:] = shaded((165, 168, 170), shade)
    kerb = to_px(zone_polygon(camera, "kerb"), w, h)
    bins = to_px(zone_polygon(camera, "bins"), w, h)
    cv2.fillPoly(img, [ipts(bins)], shaded((150, 160, 168), shade))
    cv2.fillPoly(img, [ipts(kerb)], shaded((105, 108, 112), shade))
    cv2.fillPoly(img, [ipts(road.poly)], shaded((78, 78, 80), shade))
    line = shaded((235, 235, 235), max(shade, 0.6))
    cv2.polylines(img, [ipts(road.poly)], True, line, 2, cv2.LINE_AA)
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
                img, ipts(pts[:1])[0], ipts(pts[1:])[0], line, max(1, round(3 * d2)), cv2.LINE_AA
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
            shaded((60, 60, 60), shade),
            max(1, int(4 * depth)),
        )
        head = (px + int(8 * depth) + 2, int(y) - height)
        if night:
            cv2.circle(img, head, int(6 + 14 * depth), (120, 210, 245), -1, cv2.LINE_AA)
        cv2.circle(
            img, head, max(2, int(5 * depth)), (200, 240, 255) if night else (190, 190, 190), -1
        )
    draw_bin(Pen(img), bins, shade, open_lid=False)  # a tidy bin is scenery, not a detection
    return img


def draw_bin(
    pen: Pen, bins: list[tuple[float, float]], shade: float, open_lid: bool
) -> tuple[int, int, int, int]:
    """The pavement's wheelie bin; returns its box (x1, y1, x2, y2)."""
    x1z = min(p[0] for p in bins)
    x2z = max(p[0] for p in bins)
    y1z, y2z = y_range(bins)
    bw = int((x2z - x1z) * 0.42)
    bh = int((y2z - y1z) * 0.3)
    cx = int(x1z + (x2z - x1z) * 0.5)
    by = int(y1z + (y2z - y1z) * 0.72)
    box = (cx - bw // 2, by - bh, cx + bw // 2, by)
    pen.rect(box[:2], box[2:], shaded((45, 125, 35), shade), -1)
    pen.rect(box[:2], box[2:], shaded((25, 70, 20), shade), 1)
    for k in (1, 2):
        xx = box[0] + k * bw // 3
        pen.line((xx, box[1] + 3), (xx, box[3] - 3), shaded((35, 100, 28), shade), 1)
    lid_y = box[1] - max(2, bh // 12)
    if open_lid:
        pen.line(
            (box[0], box[1]),
            (box[0] - bw // 5, lid_y - bh // 3),
            shaded((25, 80, 20), shade),
            max(2, bh // 10),
        )
    else:
        pen.rect((box[0] - 2, lid_y), (box[2] + 2, box[1]), shaded((25, 80, 20), shade), -1)
    wheel = max(2, bw // 10)
    for xx in (box[0] + wheel, box[2] - wheel):
        pen.circle((xx, box[3]), wheel, (20, 20, 20), -1)
    return box


# --------------------------------------------------------------------------- moving things


def draw_car(
    pen: Pen,
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
        shaded(color, shade),
        -1,
    )
    cabin = [
        (cx - w2 * 0.78, body_top),
        (cx - w2 * 0.58, bottom - height),
        (cx + w2 * 0.58, bottom - height),
        (cx + w2 * 0.78, body_top),
    ]
    pen.fill_poly(ipts(cabin), shaded(color, shade * 0.85))
    glass = [
        (cx - w2 * 0.66, body_top - 1),
        (cx - w2 * 0.52, bottom - height * 0.92),
        (cx + w2 * 0.52, bottom - height * 0.92),
        (cx + w2 * 0.66, body_top - 1),
    ]
    pen.fill_poly(ipts(glass), shaded((95, 75, 60), shade))
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


CAR_COLORS: tuple[Color, ...] = (
    (40, 40, 190),
    (200, 200, 200),
    (30, 30, 30),
    (170, 110, 40),
    (60, 150, 210),
    (120, 120, 130),
)


def draw_traffic(
    pen: Pen, camera: Camera, road: Road, t_s: float, night: bool, shade: float
) -> None:
    """Four to six cars moving along the lanes; where each is follows from t alone."""
    rng = stable_rng("traffic", camera.id)
    cars = []
    for _ in range(int(rng.integers(4, 7))):
        lane = int(rng.integers(0, 3))
        toward = lane == 0 or (lane == 1 and rng.random() < 0.5)
        period = float(rng.uniform(9.0, 20.0))
        phase = float(rng.random())
        color = CAR_COLORS[int(rng.integers(0, len(CAR_COLORS)))]
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
            draw_car(pen, cx, y, (right - left) * 0.22, color, shade, night, toward)
