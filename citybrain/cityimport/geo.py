"""Features of a city's GeoJSON or shapefile, and coordinates converted to WGS84 lon/lat.

Any CRS PROJ knows is converted with pyproj (a shapefile's .prj, a GeoJSON `crs` member, or the
spec's `crs`); China's GCJ-02 and Baidu's BD-09 offsets, which PROJ does not model, are undone
with prcoords' iterative inverse (about a millimetre off).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybrain.cityimport.errors import CityImportError
from citybrain.cityimport.spec import LayerSource

ToWGS84 = Callable[[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Feature:
    number: int  # 1-based, as GIS tools list a layer's features
    props: dict[str, Any]
    geometry: dict[str, Any]  # GeoJSON geometry, in the source's CRS


def read_layer(base: Path, src: LayerSource) -> tuple[list[Feature], str | None]:
    """The layer's features and the CRS its file declares (None: it declares none)."""
    path = base / src.file
    suffix = path.suffix.lower()
    if suffix == ".shp":
        return _read_shapefile(path, src)
    if suffix in (".geojson", ".json"):
        return _read_geojson(path, src)
    raise CityImportError(f"{src.file}: a layer must be .geojson, .json or .shp, not {suffix!r}")


def _read_geojson(path: Path, src: LayerSource) -> tuple[list[Feature], str | None]:
    try:
        gj = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise CityImportError(f"{src.file}: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CityImportError(f"{src.file}: not GeoJSON: {e}") from e
    if not isinstance(gj, dict) or not isinstance(gj.get("features"), list):
        raise CityImportError(f"{src.file}: not a GeoJSON FeatureCollection")
    crs = (gj.get("crs") or {}).get("properties", {}).get("name")
    feats = [
        Feature(i + 1, dict(f.get("properties") or {}), f.get("geometry") or {})
        for i, f in enumerate(gj["features"])
        if isinstance(f, dict)
    ]
    return feats, crs


def _read_shapefile(path: Path, src: LayerSource) -> tuple[list[Feature], str | None]:
    import shapefile

    prj = path.with_suffix(".prj")
    crs = prj.read_text(encoding="utf-8", errors="replace") if prj.exists() else None
    quiet = logging.getLogger("shapefile")  # a self-crossing ring is our report line, not its log
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with shapefile.Reader(str(path), encoding=src.encoding) as r:
            feats = [
                Feature(i + 1, rec.record.as_dict(), dict(rec.shape.__geo_interface__))
                for i, rec in enumerate(r.iterShapeRecords())
            ]
    except (shapefile.ShapefileException, OSError, UnicodeDecodeError) as e:
        raise CityImportError(f"{src.file}: not a readable shapefile: {e}") from e
    finally:
        quiet.setLevel(level)
    return feats, crs


GCJ02 = {"GCJ-02", "GCJ02", "GCJ"}
BD09 = {"BD-09", "BD09", "BD09LL"}


def converter(declared: str | None, file_crs: str | None, where: str) -> tuple[ToWGS84, str]:
    """A function from the source's (x, y) to WGS84 (lon, lat), and the CRS's name."""
    name = declared or file_crs
    if name is None:
        return (lambda x, y: (x, y)), "WGS84 lon/lat (none declared)"
    if name.strip().upper() in GCJ02:
        return _from_gcj02, "GCJ-02"
    if name.strip().upper() in BD09:
        return _from_bd09, "BD-09"
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(name)
    except CRSError as e:
        raise CityImportError(f"{where}: unknown coordinate system {name!r}: {e}") from e
    label = crs.to_string() if len(crs.to_string()) < 40 else crs.name
    if crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return (lambda x, y: (x, y)), label
    t = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    return (lambda x, y: tuple(t.transform(x, y))), label


def _from_gcj02(x: float, y: float) -> tuple[float, float]:
    import prcoords

    with warnings.catch_warnings():  # outside China it returns the point as is: checked after
        warnings.simplefilter("ignore", UserWarning)
        c = prcoords.gcj_wgs_bored((y, x))
    return c.lon, c.lat


def _from_bd09(x: float, y: float) -> tuple[float, float]:
    import prcoords

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        c = prcoords.bd_wgs_bored((y, x))
    return c.lon, c.lat


def lonlat_problem(points: list[tuple[float, float]], crs: str) -> str | None:
    """Why converted points cannot be WGS84 lon/lat (swapped axes, a wrong CRS), or None."""
    for lon, lat in points:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return f"a point does not convert from {crs} (wrong coordinate system?)"
        if abs(lat) > 90 and abs(lon) <= 90:
            return (
                f"({lon:g}, {lat:g}) is not (lon, lat): latitude above 90; longitude and "
                "latitude swapped?"
            )
        if abs(lat) > 90 or abs(lon) > 180:
            return (
                f"({lon:g}, {lat:g}) after reading as {crs} is no longitude/latitude: "
                "wrong coordinate system? (set crs in the spec)"
            )
    return None
