"""Write the files of Qinghe (清河市), an invented second city, as a city's offices would hand
them over: the responsibility list as an XLSX with a merged title and merged category cells,
the department list as a GBK CSV, districts as a shapefile in CGCS2000 Gauss-Kruger metres
(EPSG:4548, with its .prj), roads as GeoJSON in GCJ-02 (an Amap export), and the camera asset
register as a CSV in GCJ-02 with 20-digit GB/T 28181 device codes. A few rows are wrong the
way real ones are (a duplicate department, a self-crossing district, a camera outside the city,
swapped coordinates, an unknown category), so the import report has something to say.

    python tools/second_city.py config/cities/qinghe-source
    citybrain city import config/cities/qinghe-source/import.yaml --out config/cities/qinghe

Every name and number here is made up; no real person, office or camera is described.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import prcoords
import shapefile
from openpyxl import Workbook
from pyproj import CRS, Transformer

EPSG = 4548  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
to_gk = Transformer.from_crs(4326, EPSG, always_xy=True)

# (code, name_zh, name_en, WGS84 ring)
DISTRICTS = [
    ("341502", "河西区", "Hexi", [(117.18, 31.78), (117.25, 31.78), (117.25, 31.86), (117.18, 31.86)]),
    ("341503", "河东区", "Hedong", [(117.25, 31.78), (117.32, 31.78), (117.32, 31.86), (117.25, 31.86)]),
    ("341571", "高新区", "Gaoxin", [(117.18, 31.74), (117.32, 31.74), (117.32, 31.78), (117.18, 31.78)]),
    # a survey error: the north edge drawn crossing itself (a bow tie)
    ("341504", "湖滨区", "Hubin", [(117.18, 31.86), (117.32, 31.90), (117.32, 31.86), (117.18, 31.90)]),
]  # fmt: skip

NS = [("长江路", "Changjiang Road", 117.20), ("黄山路", "Huangshan Road", 117.23),
      ("淮河路", "Huaihe Road", 117.27), ("巢湖路", "Chaohu Road", 117.30)]  # fmt: skip
EW = [("人民路", "Renmin Road", 31.80), ("建设路", "Jianshe Road", 31.83),
      ("科学大道", "Kexue Avenue", 31.76)]  # fmt: skip

DEPARTMENTS = [  # 部门编码, 部门名称, 英文名称, 别名
    ("hotline_triage", "12345热线分拨中心", "12345 Hotline Triage Center", ""),
    ("city_roads", "市政道路管理处", "Municipal Roads Office", "市政;道路部门"),
    ("water_drainage", "排水管理处", "Drainage Office", "水务、排水部门"),
    ("fire_rescue", "消防救援支队", "Fire and Rescue Brigade", "消防;消防队"),
    ("", "园林绿化局", "Parks and Greening Bureau", "园林"),
    ("traffic_1", "交警一大队", "Traffic Police First Brigade", ""),
    ("traffic_2", "交警二大队", "Traffic Police Second Brigade", ""),
    ("sanitation_west", "环卫西片站", "Sanitation West Station", ""),
    ("sanitation_east", "环卫东片站", "Sanitation East Station", ""),
    ("urban_management", "城市管理局", "Urban Management Bureau", "城管"),
    ("environment", "生态环境局", "Environment Bureau", "环保局"),
    ("street_lighting", "路灯管理所", "Street Lighting Office", "路灯所"),
    ("", "市政道路管理处", "Municipal Roads Office", ""),  # entered twice
]

RESPONSIBILITIES = [  # 事项类别 (merged over its rows), 责任区域, 责任单位
    ("违章停车", [("河西区", "交警一大队"), ("河东区", "交警二大队"), ("高新区", "交警二大队"),
              ("湖滨区", "交警一大队")]),
    ("垃圾桶满溢", [("河西区", "环卫西片站"), ("河东区", "环卫东片站"), ("高新区", "环卫东片站")]),
    ("道路积水", [("全市", "排水管理处"), ("河东区", "水务集团")]),
    ("路面坑洞", [("全市", "市政道路管理处")]),
    ("烟雾火情", [("全市", "消防救援支队")]),
    ("树木倒伏", [("全市", "园林绿化局")]),
    ("占道施工", [("全市", "城市管理局")]),
    ("占道经营", [("全市", "城管")]),
    ("噪音扰民", [("全市", "生态环境局")]),
    ("路灯故障", [("全市", "路灯管理所")]),
    ("共享单车乱停", [("全市", "城市管理局")]),
]  # fmt: skip


def gcj(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.wgs_gcj((lat, lon))
    return round(c.lon, 6), round(c.lat, 6)


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # districts: shapefile in Gauss-Kruger metres, attributes in GBK as ArcGIS writes them
    with shapefile.Writer(str(out / "行政区划"), shapeType=shapefile.POLYGON, encoding="gbk") as w:
        w.field("XZQDM", "C", 12)
        w.field("XZQMC", "C", 40)
        w.field("NAME_EN", "C", 40)
        for code, zh, en, ring in DISTRICTS:
            pts = [to_gk.transform(lon, lat) for lon, lat in [*ring, ring[0]]]
            w.poly([[(round(x, 2), round(y, 2)) for x, y in reversed(pts)]])  # clockwise
            w.record(code, zh, en)
    (out / "行政区划.prj").write_text(CRS.from_epsg(EPSG).to_wkt("WKT1_ESRI"))
    (out / "行政区划.cpg").write_text("GBK")

    # roads: GCJ-02 GeoJSON; Changjiang Road in two pieces, as digitised
    feats = []
    for zh, en, lon in NS:
        pieces = [(31.745, 31.80), (31.80, 31.855)] if zh == "长江路" else [(31.745, 31.855)]
        for a, b in pieces:
            feats.append((zh, en, [gcj(lon, a), gcj(lon, b)]))
    for zh, en, lat in EW:
        feats.append((zh, en, [gcj(117.185, lat), gcj(117.315, lat)]))
    gj = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": zh, "name_en": en},
         "geometry": {"type": "LineString", "coordinates": [list(p) for p in line]}}
        for zh, en, line in feats]}  # fmt: skip
    (out / "道路.geojson").write_text(json.dumps(gj, ensure_ascii=False, indent=1) + "\n")

    # departments: GBK CSV
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [("部门编码", "部门名称", "英文名称", "别名"), *DEPARTMENTS]
    )
    (out / "部门名录.csv").write_bytes(buf.getvalue().encode("gbk"))

    # the responsibility list: XLSX, a merged title, category cells merged over their rows
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "权责清单"
    ws.append(["清河市城市运行事项权责清单（2026年版）"])
    ws.merge_cells("A1:D1")
    ws.append(["序号", "事项类别", "责任区域", "责任单位"])
    n = 0
    for category, lines in RESPONSIBILITIES:
        first = ws.max_row + 1
        for i, (district, dept) in enumerate(lines):
            n += 1
            ws.append([n, category if i == 0 else None, district, dept])
        if len(lines) > 1:
            ws.merge_cells(f"B{first}:B{first + len(lines) - 1}")
    wb.save(out / "权责清单.xlsx")

    # cameras: the asset register, GCJ-02, at crossings
    rows = []
    seq = 0
    for ew_zh, _, lat in EW:
        for ns_zh, _, lon in NS:
            seq += 1
            district = next(zh for _, zh, _, r in DISTRICTS if r[0][0] <= lon <= r[1][0]
                            and r[0][1] <= lat <= r[2][1])  # fmt: skip
            lo, la = gcj(lon, lat)
            rows.append([f"3415020000132{seq:07d}", f"{ns_zh}与{ew_zh}交叉口", lo, la, district])
    rows[6][4] = "河西区"  # the register says Hexi; the pole stands in Hedong
    lo, la = gcj(117.24, 31.81)
    rows.append(["34150200001320000013", "黄山路北段", la, lo, "河西区"])  # lat and lon swapped
    lo, la = gcj(117.45, 31.95)
    rows.append(["34150200001320000014", "绕城高速收费站", lo, la, "河东区"])  # outside the city
    rows.append([rows[0][0], "长江路与人民路交叉口（重复登记）", rows[0][2], rows[0][3], "河西区"])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [("设备编号", "设备名称", "经度", "纬度", "所属区域"), *rows]
    )
    (out / "摄像头台账.csv").write_bytes(buf.getvalue().encode("utf-8-sig"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=Path("config/cities/qinghe-source"))
    write(ap.parse_args().out)
