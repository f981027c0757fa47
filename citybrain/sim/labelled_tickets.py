"""The synthetic city's tickets as a labelled CSV, the shape of a city's open 311 export:
ticket text and the name of the department that really handled it (plus a label map)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import yaml

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.sim.stream import simulate

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def write_labelled_csv(
    city: City, settings: SimulatorSettings, out: Path, seeds: range | list[int]
) -> tuple[Path, Path]:
    """Writes FILE.csv (columns ticket_id, text, department) and FILE.labels.yaml beside it."""
    rows = []
    for seed in seeds:
        sim = simulate(city, settings.model_copy(update={"seed": seed}), START)
        dept = {e.id: e.department for e in sim.scenario.events}
        for st in sim.tickets:
            truth = dept[st.event_id] if st.event_id else city.triage_department
            rows.append(
                {
                    "ticket_id": f"{seed}-{st.ticket.ticket_id}",
                    "text": " ".join(p for p in (st.ticket.address, st.ticket.text) if p),
                    "department": city.department_by_id[truth].name,
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["ticket_id", "text", "department"])
        w.writeheader()
        w.writerows(rows)
    labels = out.with_suffix(".labels.yaml")
    labels.write_text(
        yaml.safe_dump({"labels": {d.name: d.id for d in city.departments}}, allow_unicode=True)
    )
    return out, labels
