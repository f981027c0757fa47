"""Letters files as hotlines export them: UTF-8 with or without a BOM, or GBK/GB18030 as a whole
(the default of Excel on a Chinese desktop); and the hot issues written back as JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from citybrain.core.hot_issues import HotIssue, LetterReport
from citybrain.text.errors import RouterError

csv.field_size_limit(sys.maxsize)


def decode(raw: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read as. A file that is not UTF-8 but is valid
    GB18030 is read as GB18030; otherwise stray bytes stay as surrogate escapes, which
    `core.history.repair_text` repairs field by field."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), "utf-8 with stray bytes"


def read_letters(path: Path, columns: Sequence[str]) -> tuple[list[dict[str, str]], str]:
    """Every row as column -> text, and the encoding; RouterError names missing columns."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RouterError(f"{path}: cannot read: {e.strerror or e}") from e
    text, encoding = decode(raw)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in columns if c not in header]
    if missing:
        have = ", ".join(header[:30]) or "(no header)"
        raise RouterError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; the columns are: {have}"
        )
    rows = [{str(k): v if isinstance(v, str) else "" for k, v in r.items()} for r in reader]
    return rows, encoding


def write_issues(path: Path, issues: Sequence[HotIssue], report: LetterReport) -> None:
    doc = {"issues": [i.as_dict() for i in issues], "report": report.as_dict()}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
