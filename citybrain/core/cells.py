"""Geo cells (H3) that key observations to incident workers.

A coarse cell (`incidents.partition_resolution`, default 4: hexagons ~26 km across) is far
larger than the fusion radius, so almost all evidence about one place shares a cell, and so a
Kafka partition and one worker.
What remains: evidence within the fusion radius of a cell border lands in two cells and can
become two incidents, and a report that names only a district is keyed by the cell of the
district's representative point, which need not be the cell where the problem is.
"""

from __future__ import annotations

from functools import lru_cache

import h3

from citybrain.core.city import City
from citybrain.core.messages import GeoPoint

UNLOCATED = "unlocated"


@lru_cache(maxsize=65_536)
def _cell(lat: float, lon: float, resolution: int) -> str:
    return str(h3.latlng_to_cell(lat, lon, resolution))


def cell_of(city: City, location: GeoPoint | None, district: str | None, resolution: int) -> str:
    """The H3 cell of a point; for a district-only report, that of the district's
    representative point; `unlocated` when neither is known."""
    if location is not None:
        return _cell(location.lat, location.lon, resolution)
    d = city.district_by_id.get(district) if district else None
    if d is None:
        return UNLOCATED
    p = d.shape.representative_point()
    return _cell(p.y, p.x, resolution)


def cell_partition_key(cell: str) -> str:
    """Kafka key of an observation: equal cells, equal partition, one incident worker."""
    return f"cell:{cell}"


def area_cell(location: GeoPoint | None, resolution: int) -> str | None:
    """A finer cell for hot-spot areas, or None without a point."""
    return None if location is None else _cell(location.lat, location.lon, resolution)
