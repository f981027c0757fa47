"""Write dispatchers' corrections as a CSV `router train --feedback` reads (text, department,
district, at): the same columns whatever the history's own are."""

from __future__ import annotations

import csv
from pathlib import Path

from citybrain.store import Store
from citybrain.store.feedback import reassigned_examples

FIELDS = ("text", "department", "district", "at", "incident_id")


def write_feedback_csv(store: Store, out: Path) -> int:
    rows = reassigned_examples(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([r.text, r.department, r.district or "", r.at.isoformat(), r.incident_id])
    return len(rows)
