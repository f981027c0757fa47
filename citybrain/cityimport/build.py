"""A city's own files in, citybrain's city files out: read by the spec, written to a temporary
folder, checked as `citybrain validate-config` checks them, then swapped in whole, so a failed
import leaves the previous city files as they were."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from citybrain.cityimport import duties, places
from citybrain.cityimport.errors import CityImportError
from citybrain.cityimport.geo import converter, read_layer
from citybrain.cityimport.names import Index
from citybrain.cityimport.report import Report
from citybrain.cityimport.spec import ImportSpec, load_spec
from citybrain.cityimport.tables import read_table
from citybrain.errors import ConfigError

REPORT_FILE = "import-report.txt"

# The sample city's image zones (config/city/cameras.yaml): a camera looking down a road.
STANDARD_ZONES: list[dict[str, Any]] = [
    {"id": "roadway", "name": "Carriageway",
     "categories": ["flooding", "pothole", "fallen_tree", "road_construction"],
     "polygon": [[0.15, 1.0], [0.85, 1.0], [0.58, 0.45], [0.42, 0.45]]},
    {"id": "kerb", "name": "No-parking kerb", "categories": ["illegal_parking"],
     "polygon": [[0.85, 1.0], [1.0, 1.0], [1.0, 0.62], [0.62, 0.45], [0.58, 0.45]]},
    {"id": "bins", "name": "Bin area on the left pavement", "categories": ["overflowing_bin"],
     "polygon": [[0.0, 0.55], [0.2, 0.55], [0.2, 1.0], [0.0, 1.0]]},
    {"id": "scene", "name": "Whole view", "categories": ["smoke_fire"],
     "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]},
]  # fmt: skip


def import_city(spec_path: Path, out: Path) -> Report:
    """Import the city `spec_path` describes into the folder `out` (replaced whole)."""
    spec = load_spec(spec_path)
    files, report = build(spec, spec_path.parent)
    report_text = report.text()
    write_city(files | {REPORT_FILE: report_text}, out, spec.name)
    return report


def build(spec: ImportSpec, base: Path) -> tuple[dict[str, str], Report]:
    """The city files' text, by file name, and the report."""
    report = Report()
    taxonomy_text, categories = _taxonomy(base / spec.taxonomy, str(spec.taxonomy))

    feats, declared = read_layer(base, spec.districts)
    to_wgs, crs = converter(spec.districts.crs, declared, str(spec.districts.file))
    dist_feats, dist_index, shapes = places.districts(
        feats, spec.districts.properties, str(spec.districts.file), to_wgs, crs, report
    )
    streets: list[dict[str, Any]] = []
    if spec.streets is not None:
        feats, declared = read_layer(base, spec.streets)
        to_wgs, crs = converter(spec.streets.crs, declared, str(spec.streets.file))
        streets = places.streets(
            feats, spec.streets.properties, str(spec.streets.file), to_wgs, crs, report
        )

    dsrc = spec.departments
    depts, dept_index = duties.departments(read_table(base, dsrc, report), str(dsrc.file), report)
    triage, why = dept_index.find(spec.triage_department)
    if triage is None:
        raise CityImportError(f"triage_department: {why} in {dsrc.file}")
    rsrc = spec.responsibilities
    lines = duties.responsibilities(
        read_table(base, rsrc, report), str(rsrc.file), report, categories, dept_index, dist_index
    )

    cams: list[dict[str, Any]] = []
    if spec.cameras is not None:
        csrc = spec.cameras
        to_wgs, crs = converter(csrc.crs, None, str(csrc.file))
        cams = places.cameras(
            read_table(base, csrc, report), str(csrc.file), to_wgs, crs, dist_index, shapes, report
        )
        if csrc.zones == "standard":
            for c in cams:
                c["zones"] = STANDARD_ZONES  # one object: written once, as an anchor

    head = f"# Written by `citybrain city import` from {spec.name}'s own files ({REPORT_FILE}).\n"
    files = {
        "taxonomy.yaml": taxonomy_text,
        "districts.geojson": json.dumps(
            {"type": "FeatureCollection", "features": dist_feats}, ensure_ascii=False, indent=1
        )
        + "\n",
        "departments.yaml": head
        + _yaml({"triage_department": triage, "departments": depts, "responsibilities": lines}),
        "gazetteer.yaml": head + _yaml({"streets": streets, "landmarks": []}),
        "cameras.yaml": head
        + _yaml({"standard_zones": STANDARD_ZONES, "cameras": cams})
        .replace("&id001", "&standard_zones")
        .replace("*id001", "*standard_zones"),
    }
    return files, report


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _taxonomy(path: Path, name: str) -> tuple[str, Index]:
    try:
        text = path.read_text(encoding="utf-8")
        cats = (yaml.safe_load(text) or {}).get("categories") or []
    except (OSError, yaml.YAMLError, AttributeError) as e:
        raise CityImportError(f"{name}: not a readable taxonomy: {e}") from e
    index = Index("category")
    for c in cats:
        if isinstance(c, dict) and c.get("id"):
            index.add(str(c["id"]), str(c.get("name", "")), str(c.get("name_zh", "")))
    return text, index


def write_city(files: dict[str, str], out: Path, name: str) -> None:
    """Write `files` into a folder beside `out`, validate it as the city, then swap it in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # a folder like any other, not mkdtemp's private one
        for fname, text in files.items():
            (tmp / fname).write_text(text, encoding="utf-8")
        _validate(tmp, name)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _validate(folder: Path, name: str) -> None:
    from citybrain.city_loading import load_city
    from citybrain.config import Settings
    from citybrain.config.settings import CitySource

    try:
        load_city(Settings(city=CitySource(dir=folder, name=name)))
    except ConfigError as e:
        problems = [p.replace(str(folder), "<city>") for p in e.problems]
        raise CityImportError(
            "the imported city does not validate (nothing written):\n" + "\n".join(problems)
        ) from e
