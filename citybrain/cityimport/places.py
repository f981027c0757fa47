"""Districts and streets from a city's layers, cameras from its asset register: converted to
WGS84, checked (a polygon that crosses itself, swapped axes, a camera outside every district),
and what is refused reported with its feature or row."""

from __future__ import annotations

from typing import Any

from shapely.geometry import LineString, Point, Polygon
from shapely.ops import linemerge
from shapely.validation import explain_validity

from citybrain.cityimport.geo import Feature, ToWGS84, lonlat_problem
from citybrain.cityimport.names import Index, key, slug
from citybrain.cityimport.report import Report
from citybrain.cityimport.tables import Row

DIGITS = 7  # ~1 cm of latitude


def _point(lon: float, lat: float) -> list[float]:
    return [round(lon, DIGITS), round(lat, DIGITS)]


def _prop(f: Feature, fields: dict[str, str], name: str) -> str:
    col = fields.get(name)
    value = f.props.get(col) if col else None
    return "" if value is None else str(value).strip()


def districts(
    feats: list[Feature],
    fields: dict[str, str],
    file: str,
    to_wgs: ToWGS84,
    crs: str,
    report: Report,
) -> tuple[list[dict[str, Any]], Index, dict[str, Polygon]]:
    """District features (GeoJSON, WGS84), the index their names match by, their shapes."""
    out: list[dict[str, Any]] = []
    index = Index("district")
    shapes: dict[str, Polygon] = {}
    firsts: dict[str, int] = {}
    for f in feats:
        changes: list[str] = []
        raw_id, name, name_zh = (_prop(f, fields, k) for k in ("id", "name", "name_zh"))
        if not (raw_id or name or name_zh):
            report.add(file, f.number, "refused", "no id or name")
            continue
        name, name_zh = name or name_zh, name_zh or name
        id_ = slug(raw_id or name, prefix="d")
        if not id_:
            report.add(file, f.number, "refused", f"no usable id in {raw_id or name!r}")
            continue
        if id_ != raw_id:
            changes.append(f"id {id_!r}" + (f" (from {raw_id!r})" if raw_id else ""))
        if id_ in firsts:
            report.add(
                file, f.number, "refused", f"duplicate district id {id_!r} (feature {firsts[id_]})"
            )
            continue
        ring, why = _outer_ring(f.geometry, changes)
        if ring is None:
            report.add(file, f.number, "refused", f"district {id_}: {why}")
            continue
        pts = [to_wgs(float(x), float(y)) for x, y, *_ in ring]
        problem = lonlat_problem(pts, crs)
        if problem is None:
            shape = Polygon(pts)
            if not shape.is_valid:
                problem = f"the polygon is not simple: {explain_validity(shape)}"
        if problem is not None:
            report.add(file, f.number, "refused", f"district {id_}: {problem}")
            continue
        firsts[id_] = f.number
        shapes[id_] = shape
        index.add(id_, name, name_zh, raw_id)
        out.append({
            "type": "Feature",
            "properties": {"id": id_, "name": name, "name_zh": name_zh},
            "geometry": {"type": "Polygon", "coordinates": [[_point(*p) for p in pts]]},
        })  # fmt: skip
        note = f"district {id_} ({len(pts)} points from {crs})"
        report.add(file, f.number, "changed" if changes else "taken",
                   note + (": " + "; ".join(changes) if changes else ""))  # fmt: skip
    return out, index, shapes


def _outer_ring(geom: dict[str, Any], changes: list[str]) -> tuple[list[Any] | None, str]:
    kind = geom.get("type")
    coords = geom.get("coordinates")
    if kind == "Polygon" and coords:
        if len(coords) > 1:
            changes.append(f"{len(coords) - 1} hole(s) dropped (a district is one outline)")
        return list(coords[0]), ""
    if kind == "MultiPolygon" and coords:
        parts = sorted(coords, key=lambda p: Polygon(p[0]).area, reverse=True)
        if len(parts) > 1:
            changes.append(f"{len(parts)} parts: kept the largest")
        return list(parts[0][0]), ""
    return None, f"geometry must be a Polygon, not {kind!r}"


def streets(
    feats: list[Feature],
    fields: dict[str, str],
    file: str,
    to_wgs: ToWGS84,
    crs: str,
    report: Report,
) -> list[dict[str, Any]]:
    """One street per name: its segments joined where they meet, else the longest kept."""
    lines: dict[str, list[LineString]] = {}
    names: dict[str, tuple[str, str]] = {}
    for f in feats:
        name, name_zh = _prop(f, fields, "name"), _prop(f, fields, "name_zh")
        if not (name or name_zh):
            report.add(file, f.number, "refused", "no street name")
            continue
        kind, coords = f.geometry.get("type"), f.geometry.get("coordinates") or []
        parts = [coords] if kind == "LineString" else coords if kind == "MultiLineString" else []
        if not parts:
            report.add(file, f.number, "refused", f"geometry must be a line, not {kind!r}")
            continue
        converted = [[to_wgs(float(x), float(y)) for x, y, *_ in part] for part in parts]
        problem = lonlat_problem([p for part in converted for p in part], crs)
        if problem is not None:
            report.add(file, f.number, "refused", f"street {name or name_zh}: {problem}")
            continue
        k = key(name_zh or name)
        names.setdefault(k, (name or name_zh, name_zh or name))
        lines.setdefault(k, []).extend(LineString(p) for p in converted if len(p) >= 2)
        report.add(file, f.number, "taken", f"street {name_zh or name}")
    out = []
    for k, segs in lines.items():
        merged = linemerge(segs) if len(segs) > 1 else segs[0]
        if merged.geom_type == "MultiLineString":
            longest = max(merged.geoms, key=lambda g: g.length)
            report.add(file, None, "changed",
                       f"street {names[k][1]}: {len(merged.geoms)} separate pieces, kept the longest")  # fmt: skip
            merged = longest
        name, name_zh = names[k]
        out.append({"name": name, "name_zh": name_zh,
                    "line": [_point(x, y) for x, y in merged.coords]})  # fmt: skip
    return out


def cameras(
    rows: list[Row],
    file: str,
    to_wgs: ToWGS84,
    crs: str,
    districts: Index,
    shapes: dict[str, Polygon],
    report: Report,
) -> list[dict[str, Any]]:
    """Cameras of an asset register. The district is where the camera stands; a register
    naming another is corrected (reported), a camera outside every district refused."""
    out: list[dict[str, Any]] = []
    firsts: dict[str, int] = {}
    for row in rows:
        v = row.values
        changes: list[str] = []
        raw_id = v.get("id", "")
        id_ = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" for c in raw_id)
        id_ = id_.strip("-")
        if not id_:
            report.add(file, row.number, "refused", f"no usable camera id in {raw_id!r}")
            continue
        if id_ != raw_id:
            changes.append(f"id {id_!r} (from {raw_id!r})")
        if id_ in firsts:
            report.add(
                file, row.number, "refused", f"duplicate camera id {id_!r} (row {firsts[id_]})"
            )
            continue
        try:
            x, y = float(v.get("lon", "")), float(v.get("lat", ""))
        except ValueError:
            report.add(file, row.number, "refused",
                       f"camera {id_}: lon {v.get('lon')!r} / lat {v.get('lat')!r} are not numbers")  # fmt: skip
            continue
        lon, lat = to_wgs(x, y)
        problem = lonlat_problem([(lon, lat)], crs)
        if problem is not None:
            report.add(file, row.number, "refused", f"camera {id_}: {problem}")
            continue
        here = Point(lon, lat)
        inside = [d for d, shape in shapes.items() if shape.covers(here)]
        if not inside:
            report.add(file, row.number, "refused",
                       f"camera {id_} at ({lon:.6f}, {lat:.6f}) is outside every district")  # fmt: skip
            continue
        district = inside[0]
        said = v.get("district", "")
        if said:
            named, _ = districts.find(said)
            if named != district:
                changes.append(f"register says district {said!r}; it stands in {district}")
        firsts[id_] = row.number
        out.append({"id": id_, "name": v.get("name") or id_, "lon": round(lon, DIGITS),
                    "lat": round(lat, DIGITS), "district": district})  # fmt: skip
        report.add(file, row.number, "changed" if changes else "taken",
                   f"camera {id_} in {district}" + (": " + "; ".join(changes) if changes else ""))  # fmt: skip
    return out
