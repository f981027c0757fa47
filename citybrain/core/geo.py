"""Distances and partition keys on the city scale (a few tens of km: flat-earth is exact enough)."""

import math

from citybrain.core.messages import GeoPoint

M_PER_DEG_LAT = 111_320.0


def metres_between(lon_a: float, lat_a: float, lon_b: float, lat_b: float) -> float:
    """Equirectangular distance; error well under 0.1% at city scale."""
    mean_lat = math.radians((lat_a + lat_b) / 2)
    dx = (lon_a - lon_b) * M_PER_DEG_LAT * math.cos(mean_lat)
    dy = (lat_a - lat_b) * M_PER_DEG_LAT
    return math.hypot(dx, dy)


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    return metres_between(a.lon, a.lat, b.lon, b.lat)


def offset_metres(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point east_m / north_m metres away, by the same local approximation."""
    dlat = north_m / M_PER_DEG_LAT
    dlon = east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def partition_key(district: str | None) -> str:
    """A district key. The jobs now key observations by geo cell (core/cells.py), which fusion
    also decides within; this stays for producers that only know a district."""
    return f"district:{district}" if district else "district:unlocated"
