"""Read the city's data files into the City model, reporting every error with its file and
line, and load settings and city together.

The core's city model stays free of I/O and the settings tree (citybrain.config) imports
nothing of citybrain, so the step that needs both, reading the files a setting names and
checking the rules against the city, lives here, above them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from citybrain.config.loader import config_path, load_settings
from citybrain.config.rules import CameraRuleSettings
from citybrain.config.settings import Settings
from citybrain.config.yaml_lines import describe, line_of, load_with_nodes
from citybrain.core.city import (
    Camera,
    Category,
    City,
    Department,
    District,
    Landmark,
    Responsibility,
    Street,
    reference_problems,
)
from citybrain.errors import ConfigError

# City file -> {section of City: (key in the file, element type)}; districts come from GeoJSON.
_CITY_FILES: dict[str, dict[str, tuple[str, Any]]] = {
    "cameras.yaml": {"cameras": ("cameras", tuple[Camera, ...])},
    "taxonomy.yaml": {"categories": ("categories", tuple[Category, ...])},
    "departments.yaml": {
        "departments": ("departments", tuple[Department, ...]),
        "responsibilities": ("responsibilities", tuple[Responsibility, ...]),
        "triage_department": ("triage_department", str),
    },
    "gazetteer.yaml": {
        "streets": ("streets", tuple[Street, ...]),
        "landmarks": ("landmarks", tuple[Landmark, ...]),
    },
}
_DISTRICTS_FILE = "districts.geojson"
_ID_SECTIONS = {"districts": "district", "categories": "category", "departments": "department"}


def load_city(settings: Settings) -> City:
    """The city in settings.city.dir, validated file by file, then across files."""
    root = settings.city.dir
    problems: list[str] = []
    sections: dict[str, Any] = {"name": settings.city.name, "name_zh": settings.city.name_zh}
    origins: dict[str, tuple[Path, yaml.Node | None]] = {}

    dpath = root / _DISTRICTS_FILE
    try:
        gj, gnode = load_with_nodes(dpath)
        origins["districts"] = (dpath, gnode)
        sections["districts"] = _districts_from_geojson(gj, dpath, gnode, problems)
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"{dpath}: {e}")

    for fname, wanted in _CITY_FILES.items():
        path = root / fname
        try:
            data, node = load_with_nodes(path)
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{path}: {e}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}:1: the top level must be a mapping")
            continue
        for section, (key, typ) in wanted.items():
            origins[section] = (path, node)
            if key not in data:
                if section in ("streets", "landmarks"):
                    continue
                problems.append(f"{path}:1: missing key {key!r}")
                continue
            try:
                sections[section] = TypeAdapter(typ).validate_python(data[key])
            except ValidationError as e:
                problems += describe(e, path, node, file_loc=(key,))

    # Cross-file references, except into sections that failed above (their ids are unknown).
    failed = {noun for k, noun in _ID_SECTIONS.items() if k not in sections}
    # Sections that failed validation are empty here; their own errors are already reported.
    blank = {s: "" if t is str else () for w in _CITY_FILES.values() for s, (_, t) in w.items()}
    draft = City.model_construct(**{"districts": (), **blank, **sections})
    for loc, msg in reference_problems(draft):
        if str(loc[0]) not in sections or any(msg.startswith(f"unknown {n} ") for n in failed):
            continue
        path, node = origins.get(str(loc[0]), (root, None))
        file_loc = _file_loc(loc)
        where = ".".join(str(p) for p in loc)
        problems.append(f"{path}:{line_of(node, file_loc) or '?'}: {where}: {msg}")
    if problems:
        raise ConfigError(problems)
    try:
        return City(**sections)
    except ValidationError as e:  # what only the whole city checks: e.g. an empty list
        raise ConfigError(
            [
                f"{origins.get(str(x['loc'][0]), (root, None))[0]}: "
                f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                for x in e.errors()
            ]
        ) from e


def _file_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Districts live under features[i].properties in GeoJSON; other sections map 1:1."""
    if loc and loc[0] == "districts" and len(loc) >= 2:
        return ("features", loc[1], "properties", *loc[2:])
    return loc


def _districts_from_geojson(
    gj: Any, path: Path, node: yaml.Node | None, problems: list[str]
) -> tuple[District, ...]:
    if not isinstance(gj, dict) or not isinstance(gj.get("features"), list):
        problems.append(f"{path}:1: expected a GeoJSON FeatureCollection")
        return ()
    out = []
    for i, feat in enumerate(gj["features"]):
        try:
            props = dict(feat.get("properties") or {})
            geom = feat.get("geometry") or {}
            if geom.get("type") != "Polygon":
                raise ValueError("geometry must be a Polygon")
            ring = [tuple(p) for p in geom["coordinates"][0]]
            out.append(District(**props, polygon=tuple(ring)))
        except ValidationError as e:
            problems += describe(e, path, node, file_loc=("features", i, "properties"))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            line = line_of(node, ("features", i))
            problems.append(f"{path}:{line or '?'}: features.{i}: {e}")
    return tuple(out)


def load_all(path: Path | None = None) -> tuple[Settings, City]:
    """Settings and city, with the camera rules checked against what the city has."""
    settings = load_settings(path)
    city = load_city(settings)
    problems = rule_problems(settings.rules, city)
    if problems:
        where = config_path(path)
        raise ConfigError([f"{where}: {p}" for p in problems])
    return settings, city


def rule_problems(rules: CameraRuleSettings, city: City) -> list[str]:
    """Rules that name a category, camera or zone the city does not have (they would never
    apply, silently): every one, as `rules.<where>: <what>`."""
    out = [
        f"rules.categories.{c}: unknown category {c!r}"
        for c in rules.categories
        if c not in city.category_by_id
    ]
    for i, o in enumerate(rules.overrides):
        where = f"rules.overrides.{i}"
        cam = city.camera_by_id.get(o.camera)
        if cam is None:
            out.append(f"{where}.camera: unknown camera {o.camera!r}")
        elif o.zone is not None and o.zone not in {z.id for z in cam.zones}:
            out.append(f"{where}.zone: camera {o.camera!r} has no zone {o.zone!r}")
        if o.category is not None and o.category not in city.category_by_id:
            out.append(f"{where}.category: unknown category {o.category!r}")
        try:
            rules.rule_for(o.category or "", o.camera, o.zone)
        except ValueError as e:
            out.append(f"{where}: {e}")
    return out
