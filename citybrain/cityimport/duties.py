"""Departments and the responsibility list (权责清单) from a city's tables."""

from __future__ import annotations

from typing import Any

from citybrain.cityimport.names import WILDCARDS, Index, key, slug, split_aliases
from citybrain.cityimport.report import Report
from citybrain.cityimport.tables import Row


def departments(rows: list[Row], file: str, report: Report) -> tuple[list[dict[str, Any]], Index]:
    """Department entries and the index their names are matched with. A second row with a name
    (or id) an earlier row has is refused: two departments must not share a name, or routing
    by name could pick either."""
    out: list[dict[str, Any]] = []
    index = Index("department")
    seen: dict[tuple[str, str], int] = {}  # (name | id, key) -> first row
    for row in rows:
        v = row.values
        name_zh = v.get("name_zh", "")
        name = v.get("name", "") or name_zh
        if not name_zh and not name:
            report.add(file, row.number, "refused", "no department name")
            continue
        name_zh = name_zh or name
        changes = []
        if not v.get("name"):
            changes.append("no English name: used the Chinese one")
        raw_id = v.get("id", "")
        id_ = slug(raw_id, prefix="d") if raw_id else slug(name, prefix="d")
        if not id_:
            id_ = f"dept_{len(out) + 1:03d}"
        if id_ != raw_id:
            changes.append(f"id {id_!r}" + (f" (from {raw_id!r})" if raw_id else ""))
        names = (("name", name_zh), ("name", name), ("id", id_))
        clash = next(
            (f"{w} {x!r} (row {seen[(w, key(x))]})" for w, x in names if (w, key(x)) in seen), ""
        )
        if clash:
            report.add(file, row.number, "refused", f"duplicate department {clash}")
            continue
        for w, x in names:
            seen.setdefault((w, key(x)), row.number)
        aliases = [
            a
            for a in split_aliases(v.get("aliases", ""))
            if key(a) not in (key(name), key(name_zh))
        ]
        entry: dict[str, Any] = {"id": id_, "name": name, "name_zh": name_zh}
        if aliases:
            entry["aliases"] = aliases
        out.append(entry)
        index.add(id_, name, name_zh, *aliases)
        report.add(file, row.number, "changed" if changes else "taken",
                   f"department {id_}" + (": " + "; ".join(changes) if changes else ""))  # fmt: skip
    return out, index


def responsibilities(
    rows: list[Row],
    file: str,
    report: Report,
    categories: Index,
    depts: Index,
    districts: Index,
) -> list[dict[str, str]]:
    """Responsibility lines with names matched to ids; a row whose category, department or
    district matches nothing is refused with the name it gave."""
    out: list[dict[str, str]] = []
    first: dict[tuple[str, str], tuple[int, str]] = {}
    for row in rows:
        v = row.values
        problems = []
        cat_name = v.get("category", "")
        category: str | None = "*" if key(cat_name) in WILDCARDS - {""} else None
        if category is None:
            category, why = categories.find(cat_name) if cat_name else (None, "no category")
            if why:
                problems.append(why)
        dept, why = (
            depts.find(v.get("department", "")) if v.get("department") else (None, "no department")
        )
        if why:
            problems.append(why)
        dist_name = v.get("district", "")
        district: str | None = "*"
        if key(dist_name) not in WILDCARDS:
            district, why = districts.find(dist_name)
            if why:
                problems.append(why)
        if problems or category is None or dept is None or district is None:
            report.add(file, row.number, "refused", "; ".join(problems))
            continue
        if category == "*" and district == "*":
            report.add(file, row.number, "refused", "a line for every category everywhere: "
                       "that is the triage department's job")  # fmt: skip
            continue
        k = (category, district)
        if k in first:
            n, other = first[k]
            what = "repeats" if other == dept else f"contradicts (there: {other})"
            report.add(file, row.number, "refused", f"{category} in {district} {what} row {n}")
            continue
        first[k] = (row.number, dept)
        line = {"category": category, "department": dept}
        if district != "*":
            line["district"] = district
        out.append(line)
        report.add(file, row.number, "taken", f"{category} in {district} -> {dept}")
    return out
