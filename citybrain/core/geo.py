"""Distances and partition keys on the city scale (a few tens of km: flat-earth is exact enough)."""

import math

from citybrain.core.messages import GeoPoint

_M_PER_DEG_LAT = 111_320.0


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Equirectangular distance; error well under 0.1% at city scale."""
    mean_lat = math.radians((a.lat + b.lat) / 2)
    dx = (a.lon - b.lon) * _M_PER_DEG_LAT * math.cos(mean_lat)
    dy = (a.lat - b.lat) * _M_PER_DEG_LAT
    return math.hypot(dx, dy)


def partition_key(district: str | None) -> str:
    """Observations are keyed by district, the unit of responsibility: all evidence about one
    district reaches one incident worker, so fusion within it never races across workers."""
    return f"district:{district}" if district else "district:unlocated"
