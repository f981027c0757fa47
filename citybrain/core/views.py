"""Camera views on the ground: where a camera's evidence can be, beyond the pole it hangs on.

A camera looking down a road sees a problem 300 m away as well as one below it, while a citizen
reports that problem from where it is. Each camera may carry a `view` polygon (lon, lat); fusion
measures evidence against it instead of the pole alone. Distances are in metres on a local
equirectangular plane (core/geo.py's approximation), so shapely does the geometry.
"""

from __future__ import annotations

import math

from shapely.geometry import Point, Polygon

from citybrain.core.city import City
from citybrain.core.geo import M_PER_DEG_LAT
from citybrain.core.messages import GeoPoint

Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


class CameraViews:
    def __init__(self, city: City) -> None:
        lats = [c.lat for c in city.cameras] or [0.0]
        self._kx = M_PER_DEG_LAT * math.cos(math.radians(sum(lats) / len(lats)))
        seen = [c for c in city.cameras if c.view]
        self._polygons = {c.id: Polygon([self._xy(lon, lat) for lon, lat in c.view]) for c in seen}
        self._bounds: dict[str, Bounds] = {c.id: Polygon(c.view).bounds for c in seen}

    def _xy(self, lon: float, lat: float) -> tuple[float, float]:
        return lon * self._kx, lat * M_PER_DEG_LAT

    def distance(self, camera_id: str, at: GeoPoint) -> float | None:
        """Metres from `at` to the camera's view (0 inside it); None for a camera without one."""
        poly = self._polygons.get(camera_id)
        return None if poly is None else float(poly.distance(Point(self._xy(at.lon, at.lat))))

    def bounds(self, camera_id: str) -> Bounds | None:
        return self._bounds.get(camera_id)
