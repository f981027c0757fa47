"""The import spec: which of a city's own files hold what, and which column means what.

A YAML file beside the city's files (paths in it are relative to it); `citybrain city import
SPEC --out DIR` reads it. Every field is titled, like the settings tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citybrain.cityimport.errors import CityImportError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableSource(_Strict):
    """A CSV or XLSX table and the columns citybrain reads from it."""

    file: Path = Field(title="CSV or XLSX file, relative to the spec")
    sheet: str | None = Field(None, title="XLSX sheet (default: the first)")
    header_row: int = Field(1, ge=1, title="Row of the column names (1: the first row)")
    encoding: str = Field(
        "auto", title="CSV text encoding: auto (UTF-8, else GB18030, which reads GBK), or a name"
    )
    columns: dict[str, str] = Field(title="citybrain field -> the file's column name")


class LayerSource(_Strict):
    """A GeoJSON file or a shapefile and the properties citybrain reads from its features."""

    file: Path = Field(title="GeoJSON (.geojson, .json) or shapefile (.shp), relative to the spec")
    crs: str | None = Field(
        None,
        title="Coordinate system of the file: an EPSG code (EPSG:4547), any PROJ string, GCJ-02 "
        "(China's offset lon/lat) or BD-09; default: the file's own (.prj, GeoJSON crs), else "
        "WGS84 lon/lat",
    )
    encoding: str = Field("utf-8", title="Text encoding of a shapefile's attributes (.dbf)")
    properties: dict[str, str] = Field(title="citybrain field -> the feature property name")


class CameraSource(TableSource):
    crs: str | None = Field(None, title="Coordinate system of lon/lat (see LayerSource.crs)")
    zones: Literal["standard", "none"] = Field(
        "standard",
        title="Image zones every camera gets: standard (carriageway, kerb, bins, whole view, as "
        "the sample city's) or none (draw them later in cameras.yaml)",
    )


class ImportSpec(_Strict):
    name: str = Field(title="City name")
    taxonomy: Path = Field(
        title="The categories (a citybrain taxonomy.yaml), copied as is; the responsibility "
        "list's categories are matched to its ids, English and Chinese names"
    )
    triage_department: str = Field(
        title="Department (id or name) that receives what no responsibility line covers"
    )
    departments: TableSource = Field(title="Departments: columns name_zh, name, id?, aliases?")
    responsibilities: TableSource = Field(
        title="The responsibility list: columns category, department, district?"
    )
    districts: LayerSource = Field(title="District polygons: properties id, name, name_zh")
    streets: LayerSource | None = Field(None, title="Street lines: properties name, name_zh")
    cameras: CameraSource | None = Field(
        None, title="Camera asset register: columns id, name, lon, lat, district?"
    )

    @model_validator(mode="after")
    def _fields(self) -> ImportSpec:
        return _check_fields(self)


# citybrain fields each source may map: (all it may name, at least one of which it must)
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "departments": ({"id", "name", "name_zh", "aliases"}, {"name", "name_zh"}),
    "responsibilities": ({"category", "department", "district"}, {"category"}),
    "districts": ({"id", "name", "name_zh"}, {"id", "name", "name_zh"}),
    "streets": ({"name", "name_zh"}, {"name", "name_zh"}),
    "cameras": ({"id", "name", "lon", "lat", "district"}, {"id"}),
}
REQUIRED = {"responsibilities": {"category", "department"}, "cameras": {"id", "lon", "lat"}}


def _field_problems(section: str, mapped: set[str]) -> list[str]:
    allowed, one_of = FIELDS[section]
    out = [f"{section}: unknown field {f!r} (one of {', '.join(sorted(allowed))})"
           for f in sorted(mapped - allowed)]  # fmt: skip
    if not mapped & one_of:
        out.append(f"{section}: map at least one of {', '.join(sorted(one_of))}")
    out += [f"{section}: map {f}" for f in sorted(REQUIRED.get(section, set()) - mapped)]
    return out


def _check_fields(spec: ImportSpec) -> ImportSpec:
    problems: list[str] = []
    for section in FIELDS:
        src = getattr(spec, section)
        if src is not None:
            mapped = set(src.columns if isinstance(src, TableSource) else src.properties)
            problems += _field_problems(section, mapped)
    if problems:
        raise ValueError("; ".join(problems))
    return spec


def load_spec(path: Path) -> ImportSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ImportSpec.model_validate(data)
    except (OSError, yaml.YAMLError) as e:
        raise CityImportError(f"{path}: {e}") from e
    except ValidationError as e:
        lines = [f"{path}: {'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()]
        raise CityImportError("\n".join(lines)) from e
