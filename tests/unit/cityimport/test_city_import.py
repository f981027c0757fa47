"""`citybrain city import` on files written the way a city's are, and on the bad ones a city
sends: merged cells, GBK, duplicates, a self-crossing polygon, swapped or projected
coordinates, a camera outside every district; nothing half-written when it fails."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import prcoords
import pytest
import yaml
from openpyxl import Workbook
from pyproj import Transformer
from typer.testing import CliRunner

from citybrain.cityimport.build import REPORT_FILE, import_city
from citybrain.cityimport.errors import CityImportError
from citybrain.cli import app

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "config" / "cities" / "qinghe-source"
IMPORTED = ROOT / "config" / "cities" / "qinghe"
TAXONOMY = ROOT / "config" / "city" / "taxonomy.yaml"


def test_the_second_sample_city_imports_as_committed(tmp_path: Path) -> None:
    """The sample's own files (shapefile in EPSG:4548, GCJ-02 roads and cameras, GBK CSV,
    XLSX with merged cells) give exactly the committed city, and it validates."""
    out = tmp_path / "qinghe"
    result = CliRunner().invoke(
        app, ["city", "import", str(SOURCE / "import.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "44 taken, 12 changed, 8 refused" in result.output
    for f in sorted(p.name for p in IMPORTED.iterdir()):
        assert (out / f).read_text(encoding="utf-8") == (IMPORTED / f).read_text(
            encoding="utf-8"
        ), f
    check = CliRunner().invoke(
        app,
        ["validate-config"],
        env={"CITYBRAIN_CITY__DIR": str(out), "CITYBRAIN_CITY__NAME": "Qinghe"},
    )
    assert check.exit_code == 0, check.output
    assert "3 districts, 12 cameras" in check.output


def test_the_report_names_every_refused_row_with_file_and_row() -> None:
    report = (IMPORTED / REPORT_FILE).read_text(encoding="utf-8").splitlines()
    refused = [line for line in report if ": refused: " in line]
    assert refused == [
        "行政区划.shp:4: refused: district hubin: the polygon is not simple: "
        "Self-intersection[117.249999922531 31.8799999907059]",
        "部门名录.csv:14: refused: duplicate department name '市政道路管理处' (row 3)",
        "权责清单.xlsx:6: refused: unknown district '湖滨区'",
        "权责清单.xlsx:11: refused: unknown department '水务集团'",
        "权责清单.xlsx:19: refused: unknown category '共享单车乱停'",
        "摄像头台账.csv:14: refused: camera 34150200001320000013: (31.8095, 117.237) is not "
        "(lon, lat): latitude above 90; longitude and latitude swapped?",
        "摄像头台账.csv:15: refused: camera 34150200001320000014 at (117.450000, 31.950000) "
        "is outside every district",
        "摄像头台账.csv:16: refused: duplicate camera id '34150200001320000001' (row 2)",
    ]
    assert "部门名录.csv: changed: not UTF-8: read as GB18030 (GBK)" in report
    assert "权责清单.xlsx:5: changed: took '违章停车' from merged cells B3:B6" in report
    assert any(
        "34150200001320000007 in hedong: register says district '河西区'" in x for x in report
    )


def test_coordinates_come_back_to_wgs84() -> None:
    """The generator placed camera 1 at (117.20, 31.80) WGS84 and wrote it in GCJ-02 (hundreds of metres
    off); districts in Gauss-Kruger metres: both come back within centimetres."""
    cams = yaml.safe_load((IMPORTED / "cameras.yaml").read_text(encoding="utf-8"))["cameras"]
    cam = next(c for c in cams if c["id"] == "34150200001320000001")
    assert (cam["lon"], cam["lat"]) == pytest.approx((117.20, 31.80), abs=1e-6)  # ~10 cm
    assert cam["zones"][0]["id"] == "roadway"
    districts = json.loads((IMPORTED / "districts.geojson").read_text(encoding="utf-8"))
    hexi = next(f for f in districts["features"] if f["properties"]["id"] == "hexi")
    xs = sorted({round(p[0], 6) for p in hexi["geometry"]["coordinates"][0]})
    assert xs == [117.18, 117.25]
    streets = yaml.safe_load((IMPORTED / "gazetteer.yaml").read_text(encoding="utf-8"))["streets"]
    changjiang = next(s for s in streets if s["name_zh"] == "长江路")
    assert len(changjiang["line"]) == 3  # its two digitised pieces joined into one line


# --- a small city written per test, for the bad input ---


def _csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _square(lon: float, lat: float, d: float = 0.02) -> list[list[float]]:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def _city(tmp: Path, **over: Any) -> Path:
    """A minimal city's files: two districts (GeoJSON), departments, a responsibility list and
    cameras (CSV); `over` replaces a file's rows or features, or a spec section."""
    src = tmp / "src"
    src.mkdir(parents=True)
    feats = over.pop("districts", None) or [
        {"id": "east", "zh": "东区", "ring": _square(117.0, 31.0)},
        {"id": "west", "zh": "西区", "ring": _square(116.98, 31.0)},
    ]
    (src / "districts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f["id"], "mc": f["zh"]},
         "geometry": {"type": "Polygon", "coordinates": [f["ring"]]}} for f in feats]}))  # fmt: skip
    _csv(src / "depts.csv", over.pop("depts", None) or [
        ["名称", "英文"], ["热线中心", "Hotline"], ["道路处", "Roads"]])  # fmt: skip
    _csv(src / "duties.csv", over.pop("duties", None) or [
        ["类别", "区域", "单位"], ["路面坑洞", "全市", "道路处"]])  # fmt: skip
    _csv(src / "cams.csv", over.pop("cams", None) or [
        ["编号", "位置", "经度", "纬度"], ["c1", "东门", 117.01, 31.01]])  # fmt: skip
    spec: dict[str, Any] = {
        "name": "Test",
        "taxonomy": str(TAXONOMY),
        "triage_department": "热线中心",
        "departments": {"file": "depts.csv", "columns": {"name_zh": "名称", "name": "英文"}},
        "responsibilities": {"file": "duties.csv",
                             "columns": {"category": "类别", "district": "区域", "department": "单位"}},
        "districts": {"file": "districts.geojson", "properties": {"id": "code", "name_zh": "mc"}},
        "cameras": {"file": "cams.csv", "columns": {"id": "编号", "name": "位置", "lon": "经度", "lat": "纬度"}},
    }  # fmt: skip
    for k, v in over.items():
        spec[k] = {**spec[k], **v} if isinstance(v, dict) and k in spec else v
    (src / "import.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return src / "import.yaml"


def _refused(report: Any) -> list[str]:
    return [str(x) for x in report.refused()]


def test_a_self_crossing_polygon_is_refused_and_its_cameras_with_it(tmp_path: Path) -> None:
    bowtie = [[117.0, 31.0], [117.02, 31.02], [117.02, 31.0], [117.0, 31.02], [117.0, 31.0]]
    spec = _city(tmp_path, districts=[
        {"id": "east", "zh": "东区", "ring": bowtie}, {"id": "west", "zh": "西区", "ring": _square(116.98, 31.0)}])  # fmt: skip
    report = import_city(spec, tmp_path / "out")
    assert _refused(report) == [
        "districts.geojson:1: refused: district east: the polygon is not simple: "
        "Self-intersection[117.01 31.01]",
        "cams.csv:2: refused: camera c1 at (117.010000, 31.010000) is outside every district",
    ]


def test_gcj02_and_projected_coordinates_convert_to_wgs84(tmp_path: Path) -> None:
    """Cameras in GCJ-02 (as online maps give them), districts in EPSG:4547 metres."""
    gk = Transformer.from_crs(4326, 4547, always_xy=True)
    metres = [list(gk.transform(x, y)) for x, y in _square(117.0, 31.0)]
    g = prcoords.wgs_gcj((31.01, 117.01))
    spec = _city(
        tmp_path,
        districts=[{"id": "east", "zh": "东区", "ring": metres}],
        cams=[["编号", "位置", "经度", "纬度"], ["c1", "东门", g.lon, g.lat]],
        cameras={"crs": "GCJ-02"},
    )
    yaml_spec = yaml.safe_load(spec.read_text(encoding="utf-8"))
    yaml_spec["districts"]["crs"] = "EPSG:4547"
    spec.write_text(yaml.safe_dump(yaml_spec, allow_unicode=True))
    assert _refused(import_city(spec, tmp_path / "out")) == []
    cam = yaml.safe_load((tmp_path / "out" / "cameras.yaml").read_text())["cameras"][0]
    assert abs(g.lon - 117.01) > 1e-3  # the offset is real (hundreds of metres)
    assert (cam["lon"], cam["lat"]) == pytest.approx((117.01, 31.01), abs=1e-6)
    ring = json.loads((tmp_path / "out" / "districts.geojson").read_text())["features"][0]
    assert ring["geometry"]["coordinates"][0][0] == pytest.approx([117.0, 31.0], abs=1e-7)


def test_metres_read_as_degrees_are_refused_with_a_hint(tmp_path: Path) -> None:
    spec = _city(tmp_path, districts=[
        {"id": "east", "zh": "东区", "ring": _square(500000, 3430000, 2000)},
        {"id": "west", "zh": "西区", "ring": _square(116.98, 31.0)}])  # fmt: skip
    report = import_city(spec, tmp_path / "out")
    first = _refused(report)[0]
    assert first.startswith("districts.geojson:1: refused: district east: (500000, 3.43e+06)")
    assert first.endswith("wrong coordinate system? (set crs in the spec)")


def test_duplicate_departments_and_unknown_names_are_refused_with_rows(tmp_path: Path) -> None:
    spec = _city(
        tmp_path,
        depts=[["名称", "英文"], ["热线中心", "Hotline"], ["道路处", "Roads"], ["道路处", "Roads 2"]],
        duties=[["类别", "区域", "单位"], ["路面坑洞", "全市", "道路处"], ["垃圾分类", "东区", "道路处"],
                ["道路积水", "南区", "道路处"], ["路面坑洞", "全市", "道路处"]],
    )  # fmt: skip
    assert _refused(import_city(spec, tmp_path / "out")) == [
        "depts.csv:4: refused: duplicate department name '道路处' (row 3)",
        "duties.csv:3: refused: unknown category '垃圾分类'",
        "duties.csv:4: refused: unknown district '南区'",
        "duties.csv:5: refused: pothole in * repeats row 2",
    ]


def test_a_gbk_csv_is_read_and_a_wrong_declared_encoding_is_an_error(tmp_path: Path) -> None:
    spec = _city(tmp_path, depts=[["名称", "英文"], ["热线中心", "Hotline"], ["道路处", "Roads"]])
    _csv(
        spec.parent / "depts.csv",
        [["名称", "英文"], ["热线中心", "Hotline"], ["道路处", "Roads"]],
        "gbk",
    )
    report = import_city(spec, tmp_path / "out")
    assert "depts.csv: changed: not UTF-8: read as GB18030 (GBK)" in report.text()
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["departments"]["encoding"] = "utf-8"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(CityImportError, match=r"depts.csv:1: not utf-8 text"):
        import_city(spec, tmp_path / "out2")


def test_merged_cells_fill_their_rows_and_a_merged_header_is_an_error(tmp_path: Path) -> None:
    spec = _city(tmp_path)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["类别", "区域", "单位"])
    ws.append(["路面坑洞", "东区", "道路处"])
    ws.append([None, "西区", "道路处"])
    ws.merge_cells("A2:A3")
    wb.save(spec.parent / "duties.xlsx")
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["responsibilities"]["file"] = "duties.xlsx"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True))
    report = import_city(spec, tmp_path / "out")
    assert "duties.xlsx:3: changed: took '路面坑洞' from merged cells A2:A3" in report.text()
    assert "duties.xlsx:3: taken: pothole in west -> roads" in report.text()
    ws.merge_cells("A1:B1")
    wb.save(spec.parent / "duties.xlsx")
    with pytest.raises(
        CityImportError, match=r"duties.xlsx:1: the header row has merged cells A1:B1"
    ):
        import_city(spec, tmp_path / "out2")


def test_a_failed_import_leaves_the_previous_city_as_it_was(tmp_path: Path) -> None:
    """The output folder is swapped in whole only once it validates; otherwise nothing
    of the attempt stays (no temporary folder either)."""
    out = tmp_path / "city"
    shutil.copytree(IMPORTED, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    spec = _city(tmp_path, triage_department="no such office")
    with pytest.raises(
        CityImportError, match="triage_department: unknown department 'no such office'"
    ):
        import_city(spec, out)
    # every responsibility refused: the city does not validate, nothing is written
    spec = _city(tmp_path / "b", duties=[["类别", "区域", "单位"], ["不存在", "全市", "道路处"]])
    with pytest.raises(CityImportError, match="does not validate"):
        import_city(spec, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # and a good import replaces it whole
    import_city(_city(tmp_path / "c"), out)
    assert yaml.safe_load((out / "departments.yaml").read_text())["triage_department"] == "hotline"


def test_strict_writes_nothing_when_a_row_is_refused(tmp_path: Path) -> None:
    spec = _city(tmp_path, duties=[["类别", "区域", "单位"], ["路面坑洞", "全市", "道路处"], ["垃圾分类", "全市", "道路处"]])  # fmt: skip
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["city", "import", str(spec), "--out", str(out), "--strict"])
    assert res.exit_code == 1
    assert "duties.csv:3: refused: unknown category '垃圾分类'" in res.output
    assert "--strict: nothing written" in res.output and not out.exists()


def test_cameras_from_an_xlsx_register(tmp_path: Path) -> None:
    spec = _city(tmp_path)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["编号", "位置", "经度", "纬度"])
    ws.append(["c-01", "东门", 117.01, 31.01])
    ws.append(["c 02", "西门", 116.99, 31.01])
    ws.append(["c-03", "城外", 118.5, 31.01])
    wb.save(spec.parent / "cams.xlsx")
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["cameras"]["file"] = "cams.xlsx"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True))
    report = import_city(spec, tmp_path / "out")
    assert report.text().splitlines()[-3:] == [
        "cams.xlsx:2: taken: camera c-01 in east",
        "cams.xlsx:3: changed: camera c-02 in west: id 'c-02' (from 'c 02')",
        "cams.xlsx:4: refused: camera c-03 at (118.500000, 31.010000) is outside every district",
    ]


def test_a_spec_that_maps_unknown_or_too_few_fields_is_refused(tmp_path: Path) -> None:
    spec = _city(tmp_path, cameras={"columns": {"id": "编号", "lng": "经度"}})
    with pytest.raises(CityImportError) as e:
        import_city(spec, tmp_path / "out")
    assert "cameras: unknown field 'lng' (one of district, id, lat, lon, name)" in str(e.value)
    assert "cameras: map lat" in str(e.value) and "cameras: map lon" in str(e.value)
