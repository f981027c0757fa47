"""The synthetic city's tickets as a labelled CSV, the shape of a city's open 311 export:
ticket text, the district the ticket locates to (as the ticket job geocodes it; empty when it
names no place), when it came in, and the name of the department that really handled it (plus a label map). It is
the sample city's ticket history for `citybrain router train`."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import yaml

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.core.geocode import Geocoder
from citybrain.sim.stream import simulate

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def write_labelled_csv(
    city: City, settings: SimulatorSettings, out: Path, seeds: range | list[int]
) -> tuple[Path, Path]:
    """Writes FILE.csv (ticket_id, text, district, created_at, department) and
    FILE.labels.yaml beside it."""
    rows = []
    geocoder = Geocoder(city)
    for seed in seeds:
        sim = simulate(city, settings.model_copy(update={"seed": seed}), START)
        dept = {e.id: e.department for e in sim.scenario.events}
        for st in sim.tickets:
            truth = dept[st.event_id] if st.event_id else city.triage_department
            text = " ".join(p for p in (st.ticket.address, st.ticket.text) if p)
            rows.append(
                {
                    "ticket_id": f"{seed}-{st.ticket.ticket_id}",
                    "text": text,
                    "district": geocoder.locate(text, st.ticket.location).district or "",
                    "created_at": st.ticket.received_at.isoformat(),
                    "department": city.department_by_id[truth].name,
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(
            f, fieldnames=["ticket_id", "text", "district", "created_at", "department"]
        )
        w.writeheader()
        w.writerows(rows)
    labels = out.with_suffix(".labels.yaml")
    labels.write_text(
        yaml.safe_dump({"labels": {d.name: d.id for d in city.departments}}, allow_unicode=True)
    )
    return out, labels
