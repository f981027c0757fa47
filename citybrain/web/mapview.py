"""The dashboard map's own layers, as GeoJSON from the city config: districts (polygons),
streets (lines), landmarks and cameras (points), named in the page's language. The page draws
them with Leaflet as vector layers, so the map works with no tiles and no network; a basemap
(web.map.style) goes under them where a deployment has one."""

from __future__ import annotations

from typing import Any

from citybrain.core.city import City
from citybrain.web.i18n import named

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


def _feature(kind: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"kind": kind, **props}, "geometry": geometry}


def layers(city: City, lang: str) -> dict[str, Any]:
    """One FeatureCollection with every layer (`properties.kind` tells them apart)."""
    features = [
        _feature(
            "district",
            {"type": "Polygon", "coordinates": [[list(p) for p in d.polygon]]},
            id=d.id,
            name=named(d, d.id, lang),
        )
        for d in city.districts
    ]
    features += [
        _feature(
            "street",
            {"type": "LineString", "coordinates": [list(p) for p in s.line]},
            name=named(s, s.name, lang),
        )
        for s in city.streets
    ]
    features += [
        _feature(
            "landmark",
            {"type": "Point", "coordinates": [lm.lon, lm.lat]},
            name=named(lm, lm.name, lang),
        )
        for lm in city.landmarks
    ]
    features += [
        _feature(
            "camera",
            {"type": "Point", "coordinates": [c.lon, c.lat]},
            id=c.id,
            name=c.name,
            district=c.district,
        )
        for c in city.cameras
    ]
    return {"type": "FeatureCollection", "features": features}


def bounds(city: City, pad: float = 0.004) -> list[list[float]]:
    """[[south, west], [north, east]] around the districts, as Leaflet's fitBounds wants."""
    lons = [p[0] for d in city.districts for p in d.polygon]
    lats = [p[1] for d in city.districts for p in d.polygon]
    return [[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]]


def category_colours(city: City) -> dict[str, str]:
    colours = {c.id: PALETTE[i % len(PALETTE)] for i, c in enumerate(city.categories)}
    colours["unclassified"] = "#555555"
    return colours
