"""The city map as inline SVG, drawn from the district polygons in the city config (no tiles)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from citybrain.core.city import City

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#ff7f0e",
    "#8c564b",
    "#2ca02c",
    "#9467bd",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]


@dataclass(frozen=True)
class MapView:
    """Equirectangular projection of the city's bounding box onto a width × height canvas."""

    min_lon: float
    max_lon: float
    min_lat: float
    max_lat: float
    width: float
    height: float

    @classmethod
    def of(cls, city: City, width: float = 640.0, pad: float = 0.004) -> MapView:
        lons = [p[0] for d in city.districts for p in d.polygon]
        lats = [p[1] for d in city.districts for p in d.polygon]
        lo0, lo1 = min(lons) - pad, max(lons) + pad
        la0, la1 = min(lats) - pad, max(lats) + pad
        kx = math.cos(math.radians((la0 + la1) / 2))
        height = width * (la1 - la0) / ((lo1 - lo0) * kx)
        return cls(lo0, lo1, la0, la1, width, round(height, 1))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.min_lon) / (self.max_lon - self.min_lon) * self.width
        y = (self.max_lat - lat) / (self.max_lat - self.min_lat) * self.height
        return round(x, 1), round(y, 1)

    def districts(self, city: City) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for d in city.districts:
            pts = " ".join("{},{}".format(*self.xy(lon, lat)) for lon, lat in d.polygon)
            c = d.shape.representative_point()
            out.append({"id": d.id, "name": d.name, "points": pts, "label": self.xy(c.x, c.y)})
        return out

    def js(self) -> dict[str, float]:
        return {
            "minLon": self.min_lon,
            "maxLon": self.max_lon,
            "minLat": self.min_lat,
            "maxLat": self.max_lat,
            "width": self.width,
            "height": self.height,
        }


def category_colours(city: City) -> dict[str, str]:
    colours = {c.id: PALETTE[i % len(PALETTE)] for i, c in enumerate(city.categories)}
    colours["unclassified"] = "#555555"
    return colours
