"""Synthetic street-camera frames drawn with OpenCV primitives.

Frames only need to look enough like a street for the vision stage to have something real to
chew on: the road follows the camera's zones, so an event drawn in the zone that watches its
category is seen where the zone logic downstream expects it. The static scene of a camera is
drawn once and cached; per frame only vehicles, events and sensor noise are drawn (fast).

`render_annotated` also says where it drew every object of a detector class (boxes for
training data): each shape is mirrored onto a map of object ids, so occlusion is exact.

The package: `geometry` (zones in pixels, perspective, time of day), `pen` (drawing with the
object-id map), `scenery` (the static street and traffic), `painters` (one per event
category, registered by category).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import cv2
import numpy as np

from citybrain.core.city import Camera
from citybrain.sim.render.geometry import (
    NIGHT_SHADE,
    Road,
    is_night,
    local_hour,
    stable_rng,
    to_px,
    zone_for,
    zone_polygon,
)
from citybrain.sim.render.painters import PAINTERS, Scene
from citybrain.sim.render.pen import MIN_BOX_PX, MIN_VISIBLE, Box, Pen
from citybrain.sim.render.scenery import background, draw_traffic
from citybrain.sim.scenario import SimEvent

__all__ = [
    "BOX_CLASSES",
    "DRAWN_CATEGORIES",
    "MIN_BOX_PX",
    "MIN_VISIBLE",
    "Box",
    "encode_jpeg",
    "is_night",
    "local_hour",
    "render_annotated",
    "render_frame",
    "zone_for",
    "zone_polygon",
]

# Every category the renderer can show (others pass through unseen).
DRAWN_CATEGORIES = tuple(PAINTERS)
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
    img = background(camera, width, height, night).copy()
    scene = Scene(Pen(img, annotate), Road(camera, width, height), t.timestamp(), shade, night)

    def paint(ev: SimEvent) -> None:
        painter = PAINTERS[ev.category]
        poly: list[tuple[float, float]] = []
        if painter.zone is not None:
            zone = zone_for(camera, ev.category)
            normalised = (
                list(zone.polygon) if zone is not None else zone_polygon(camera, painter.zone)
            )
            poly = to_px(normalised, width, height)
        painter.draw(scene, poly, stable_rng("event", ev.id, camera.id))

    drawn = sorted((e for e in events_visible if e.category in PAINTERS), key=lambda e: e.id)
    for layer in ("ground", "traffic", "middle", "sky"):
        if layer == "traffic":
            draw_traffic(scene.pen, camera, scene.road, scene.t_s, night, shade)
        for ev in drawn:
            if PAINTERS[ev.category].layer == layer:
                paint(ev)

    noise = rng.integers(0, 7, size=(height, width), dtype=np.uint8)  # sensor grain
    cv2.add(img, cv2.merge((noise, noise, noise)), dst=img)
    return img, scene.pen.boxes()


def encode_jpeg(img: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes as a camera would publish them."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
