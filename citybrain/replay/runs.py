"""A run: what the pipelines produced, exported from the store as JSON lines (docs/ARCHIVE.md).

    RUN/run.json          format, version, where it came from, counts, excluded fields
    RUN/incidents.jsonl   the Incident contract, one per line
    RUN/dispatches.jsonl  the Dispatch contract
    RUN/summaries.jsonl   incident id, summary text, whether a template or a model wrote it
    RUN/evidence.jsonl    which observation joined which incident (for `eval incidents`)

Lines are sorted by content, not by id or write order, so two runs of the same input export
byte-identical files. Fields that cannot repeat across runs are left out (EXCLUDED).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citybrain.core.summary import split_template_mark
from citybrain.replay.errors import RunError
from citybrain.store import Store

FORMAT = "citybrain-run"
VERSION = 1
FILES = ("incidents", "dispatches", "summaries", "evidence")
EXCLUDED = {
    "evidence.frame_ref": "names the replay namespace's topic and offsets, which differ by design",
    "run.json.exported_at": "wall clock of the export",
}


@dataclass(frozen=True)
class Run:
    path: Path
    meta: dict[str, Any]
    incidents: list[dict[str, Any]]
    dispatches: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    evidence: list[dict[str, Any]]


def _generator(summary: str) -> str:
    return "template" if split_template_mark(summary)[1] else "model"


def export_run(store: Store, out: Path, source: str = "", force: bool = False) -> dict[str, int]:
    """Write the run beside `out` and rename it into place: a reader never sees half a run."""
    out = Path(out)
    if out.exists() and not force:
        raise RunError(f"{out} exists; choose another folder or pass --force")
    incidents = [json.loads(i.to_message()) for i in store.incident_list(limit=10_000_000)]
    incidents.sort(key=lambda i: (i["opened_at"], i["category"], i["district"] or "", i["id"]))
    dispatches = [d.model_dump(mode="json") for d in store.dispatch_models()]
    dispatches.sort(key=lambda d: (d["created_at"], d["department"], d["incident_id"]))
    summaries = [
        {"incident_id": i["id"], "summary": i["summary"], "generator": _generator(i["summary"])}
        for i in incidents
    ]
    evidence = [
        {
            "observation_id": e.observation_id,
            "incident_id": e.incident_id,
            "source": e.source,
            "source_id": e.source_id,
            "category": e.category,
            "observed_at": e.observed_at.isoformat(),
            "precision": e.precision,
            "lon": e.lon,
            "lat": e.lat,
            "confidence": e.confidence,
            "text": e.text,  # redacted ticket text: what a summary is scored against
        }
        for e in store.evidence()
    ]
    evidence.sort(key=lambda e: (e["observed_at"], e["source_id"], e["observation_id"]))
    rows = {
        "incidents": incidents,
        "dispatches": dispatches,
        "summaries": summaries,
        "evidence": evidence,
    }
    counts = {k: len(v) for k, v in rows.items()}
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, items in rows.items():
        with (tmp / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "source": source,
        "counts": counts,
        "excluded": EXCLUDED,
    }
    (tmp / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return counts


def load_run(path: Path) -> Run:
    path = Path(path)
    meta_path = path / "run.json"
    if not meta_path.is_file():
        raise RunError(f"{path}: not a run export (no run.json); see `citybrain export-run`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RunError(f"{meta_path}: {e}") from e
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise RunError(f"{meta_path}: not a {FORMAT} v{VERSION} export")
    data: dict[str, list[dict[str, Any]]] = {}
    for name in FILES:
        f = path / f"{name}.jsonl"
        if not f.is_file():
            raise RunError(f"{f}: missing")
        items = []
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError as e:
                raise RunError(f"{f}:{n}: {e}") from e
        data[name] = items
    return Run(path=path, meta=meta, **data)
