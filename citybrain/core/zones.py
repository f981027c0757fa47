"""Which camera zone a detection counts for, and so which categories it is evidence of.

A detection counts for a zone by its footprint, chosen per zone: by default the bottom centre
of the box (where an object stands, so a car driving past the kerb zone's top edge does not
count as parked there), or the box centre, or a share of the box's area inside the zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import Polygon

from citybrain.core.city import Camera, City, Zone
from citybrain.core.messages import Detection

NO_TRACK = -1  # a track id array's value for a box no track holds


def class_categories(city: City) -> dict[str, tuple[str, ...]]:
    """Detector class -> the categories it can be evidence of."""
    out: dict[str, list[str]] = {}
    for cat in city.categories:
        for cls in cat.detector_classes:
            out.setdefault(cls, []).append(cat.id)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1024)
def _zone_shape(polygon: tuple[tuple[float, float], ...]) -> Polygon:
    shape = Polygon(polygon)
    shapely.prepare(shape)
    return shape


def zone_mask(zone: Zone, xyxyn: np.ndarray) -> np.ndarray:
    """Which of the (N, 4) normalised boxes count for the zone, by its footprint rule, in one
    vectorised test (points on the zone's edge count)."""
    shape = _zone_shape(zone.polygon)
    b = np.asarray(xyxyn, np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    if zone.footprint == "bottom_center":
        return np.asarray(shapely.intersects_xy(shape, (x1 + x2) / 2, y2), bool)
    if zone.footprint == "center":
        return np.asarray(shapely.intersects_xy(shape, (x1 + x2) / 2, (y1 + y2) / 2), bool)
    area = np.maximum((x2 - x1) * (y2 - y1), 1e-12)
    inside = shapely.area(shapely.intersection(shape, shapely.box(x1, y1, x2, y2)))
    return np.asarray(inside / area >= zone.min_overlap, bool)


def in_zone(zone: Zone, xyxy: tuple[float, float, float, float]) -> bool:
    """Whether one normalised box counts for the zone."""
    return bool(zone_mask(zone, np.array([xyxy]))[0])


def evidence_by_category(
    camera: Camera,
    class_names: Sequence[str],
    confidence: np.ndarray,
    xyxyn: np.ndarray,
    classes: dict[str, tuple[str, ...]],
    track_ids: np.ndarray | None = None,
) -> dict[str, list[Detection]]:
    """One frame's boxes grouped by the categories their zones count them for: each box counts
    for a category in the first of the camera's zones watching it that it lies in. A zone is
    tested once for the whole frame, and only when some box's category needs it."""
    if not len(class_names):
        return {}
    masks: dict[str, np.ndarray] = {}

    def inside(zone: Zone, i: int) -> bool:
        if zone.id not in masks:  # only zones some box's category needs are tested
            masks[zone.id] = zone_mask(zone, xyxyn)
        return bool(masks[zone.id][i])

    out: dict[str, list[Detection]] = {}
    for i, cls in enumerate(class_names):
        for category in classes.get(cls, ()):
            zone = next(
                (z for z in camera.zones if category in z.categories and inside(z, i)), None
            )
            if zone is None:
                continue
            tid = None if track_ids is None or track_ids[i] == NO_TRACK else int(track_ids[i])
            out.setdefault(category, []).append(
                Detection(
                    cls=cls,
                    confidence=round(float(confidence[i]), 4),
                    box=(
                        float(xyxyn[i][0]),
                        float(xyxyn[i][1]),
                        float(xyxyn[i][2]),
                        float(xyxyn[i][3]),
                    ),
                    zone=zone.id,
                    track_id=tid,
                )
            )
    return out
