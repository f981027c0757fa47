"""Rows of a city's CSV or XLSX file, numbered as the city's own spreadsheet shows them.

A CSV in GBK (what Excel writes on a Chinese Windows) is read as GB18030, its superset; cells a
spreadsheet merged over several rows give their value to each of those rows, and each such row
is reported as changed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybrain.cityimport.errors import CityImportError
from citybrain.cityimport.report import Report
from citybrain.cityimport.spec import TableSource


@dataclass(frozen=True)
class Row:
    number: int  # 1-based row of the sheet / line of the CSV
    values: dict[str, str]  # citybrain field -> cell text, stripped


def read_table(base: Path, src: TableSource, report: Report) -> list[Row]:
    path = base / src.file
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        grid = _xlsx_grid(path, src, report)
    elif suffix in (".csv", ".txt"):
        grid = _csv_grid(path, src, report)
    else:
        raise CityImportError(f"{src.file}: a table must be .csv or .xlsx, not {suffix!r}")
    if len(grid) < src.header_row:
        raise CityImportError(f"{src.file}: no header row {src.header_row}")
    header = [c.strip() for c in grid[src.header_row - 1][1]]
    index: dict[str, int] = {}
    for wanted, column in src.columns.items():
        if column not in header:
            raise CityImportError(
                f"{src.file}:{src.header_row}: no column {column!r} (for {wanted}); "
                f"the columns are {', '.join(repr(h) for h in header if h)}"
            )
        index[wanted] = header.index(column)
    rows = []
    for number, cells in grid[src.header_row :]:
        if not any(c.strip() for c in cells):
            continue
        values = {k: (cells[i].strip() if i < len(cells) else "") for k, i in index.items()}
        rows.append(Row(number, values))
    return rows


def _csv_grid(path: Path, src: TableSource, report: Report) -> list[tuple[int, list[str]]]:
    raw = _read_bytes(path, src)
    if src.encoding == "auto":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode(raw, "gb18030", src)
            report.add(str(src.file), None, "changed", "not UTF-8: read as GB18030 (GBK)")
    else:
        text = _decode(raw, src.encoding, src)
    reader = csv.reader(io.StringIO(text, newline=""))
    grid = []
    start = 1
    for cells in reader:
        grid.append((start, cells))
        start = reader.line_num + 1
    return grid


def _read_bytes(path: Path, src: TableSource) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CityImportError(f"{src.file}: {e.strerror or e}") from e


def _decode(raw: bytes, encoding: str, src: TableSource) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CityImportError(
            f"{src.file}:{line}: not {encoding} text (byte {e.start}); set its encoding in the spec"
        ) from e
    except LookupError as e:
        raise CityImportError(f"{src.file}: unknown encoding {encoding!r}") from e


def _xlsx_grid(path: Path, src: TableSource, report: Report) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, data_only=True)  # not read-only: merged ranges need the sheet
    except (OSError, InvalidFileException, KeyError, ValueError) as e:
        raise CityImportError(f"{src.file}: not a readable XLSX workbook: {e}") from e
    if src.sheet is not None and src.sheet not in wb.sheetnames:
        raise CityImportError(
            f"{src.file}: no sheet {src.sheet!r}; sheets: {', '.join(wb.sheetnames)}"
        )
    ws = wb[src.sheet] if src.sheet is not None else wb.worksheets[0]
    grid = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= src.header_row <= rng.max_row:
            raise CityImportError(
                f"{src.file}:{src.header_row}: the header row has merged cells {rng.coord}: "
                "give each column its own name"
            )
        if rng.max_row <= src.header_row:
            continue  # a title above the header
        value = grid[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                grid[r - 1][c - 1] = value
            if r > rng.min_row:
                report.add(
                    str(src.file), r, "changed", f"took {value!r} from merged cells {rng.coord}"
                )
    return [(i + 1, row) for i, row in enumerate(grid)]


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)
