"""Read a history CSV the way exports really are: UTF-8 with stray GBK bytes, a BOM, very
long fields. Undecodable bytes survive as surrogate escapes for `core.history` to repair.

A text column may be several columns joined with `+` (`subject+detail`): hotline exports keep
a letter's subject and body apart, and the router reads both."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from citybrain.core.history import Columns, missing_columns
from citybrain.text.errors import RouterError

csv.field_size_limit(sys.maxsize)


def read_history(path: Path, cols: Columns | None = None) -> list[dict[str, str]]:
    """Every row as column -> text; raises RouterError naming the columns that are missing."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RouterError(f"{path}: cannot read: {e.strerror or e}") from e
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.decode("utf-8", "surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    joined = joined_columns(header, cols.text) if cols is not None else None
    if cols is not None:
        missing = missing_columns([*header, *([cols.text] if joined else [])], cols)
        missing += [c for c in joined or () if c not in header]
        if missing:
            have = ", ".join(header[:30]) or "(no header)"
            raise RouterError(
                f"{path}: no column {', '.join(repr(m) for m in missing)}; the columns are: {have}"
            )
    rows = [{str(k): v if isinstance(v, str) else "" for k, v in r.items()} for r in reader]
    if cols is not None and joined:
        for r in rows:
            r[cols.text] = " ".join(part for c in joined if (part := r.get(c, "").strip()))
    return rows


def joined_columns(header: list[str], name: str) -> list[str] | None:
    """`a+b` names the columns a and b joined, unless the file has a column called `a+b`."""
    if "+" not in name or name in header:
        return None
    return [c.strip() for c in name.split("+") if c.strip()]
