"""Which camera zone a detection counts for, and so which categories it is evidence of.

A detection counts for a zone by its footprint, chosen per zone: by default the bottom centre
of the box (where an object stands, so a car driving past the kerb zone's top edge does not
count as parked there), or the box centre, or a share of the box's area inside the zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from shapely.geometry import Point, Polygon, box

from citybrain.core.city import Camera, City, Zone
from citybrain.core.messages import Detection


def class_categories(city: City) -> dict[str, tuple[str, ...]]:
    """Detector class -> the categories it can be evidence of."""
    out: dict[str, list[str]] = {}
    for cat in city.categories:
        for cls in cat.detector_classes:
            out.setdefault(cls, []).append(cat.id)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1024)
def _zone_shape(polygon: tuple[tuple[float, float], ...]) -> Polygon:
    return Polygon(polygon)


def evidence_by_category(
    camera: Camera,
    detections: Iterable[tuple[str, float, tuple[float, float, float, float]]],
    classes: dict[str, tuple[str, ...]],
) -> dict[str, list[Detection]]:
    """(class, confidence, normalised box) grouped by the categories their zones count them for."""
    out: dict[str, list[Detection]] = {}
    for cls, conf, xyxy in detections:
        for category in classes.get(cls, ()):
            for zone in camera.zones:
                if category in zone.categories and in_zone(zone, xyxy):
                    out.setdefault(category, []).append(
                        Detection(cls=cls, confidence=round(conf, 4), box=xyxy, zone=zone.id)
                    )
                    break
    return out


def in_zone(zone: Zone, xyxy: tuple[float, float, float, float]) -> bool:
    """Whether a normalised box counts for the zone, by the zone's footprint rule."""
    shape = _zone_shape(zone.polygon)
    x1, y1, x2, y2 = xyxy
    if zone.footprint == "bottom_center":
        return bool(shape.covers(Point((x1 + x2) / 2, y2)))
    if zone.footprint == "center":
        return bool(shape.covers(Point((x1 + x2) / 2, (y1 + y2) / 2)))
    area = max((x2 - x1) * (y2 - y1), 1e-12)
    return bool(shape.intersection(box(x1, y1, x2, y2)).area / area >= zone.min_overlap)
