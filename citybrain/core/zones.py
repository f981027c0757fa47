"""Which camera zone a detection counts for, and so which categories it is evidence of.

A detection counts for a zone by its footprint (bottom-centre of the box: where an object
stands), so a car driving past the kerb zone's top edge does not count as parked there.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from shapely.geometry import Point, Polygon

from citybrain.core.city import Camera, City
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
    for cls, conf, box in detections:
        foot = Point((box[0] + box[2]) / 2, box[3])
        for category in classes.get(cls, ()):
            for zone in camera.zones:
                if category in zone.categories and _zone_shape(zone.polygon).covers(foot):
                    out.setdefault(category, []).append(
                        Detection(cls=cls, confidence=round(conf, 4), box=box, zone=zone.id)
                    )
                    break
    return out
