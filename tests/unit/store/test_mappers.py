"""Row mappers round-trip through a real SQLite database, and each incident column has one
writer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybrain.core.hotspots import HotspotAlert
from citybrain.core.messages import Dispatch, Observation
from citybrain.store import Store
from citybrain.store.mappers import (
    INCIDENT_WRITERS,
    dispatch_from_row,
    dispatch_row,
    evidence_row,
    hotspot_from_row,
    hotspot_row,
    incident_from_row,
    incident_row,
)
from citybrain.store.models import DispatchRow, EvidenceRow, HotspotRow, IncidentRow
from tests.unit.core.test_incident import full

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _stored(store: Store, row: object, kind: type, key: str) -> object:
    """Write a row, then read it back in a fresh session (no identity-map shortcut)."""
    with Session(store.engine) as s, s.begin():
        s.add(row)
    with Session(store.engine) as s:
        back = s.get(kind, key)
        assert back is not None
        s.expunge(back)
        return back


def test_an_incident_round_trips_through_its_row(tmp_path: object) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/m.db")
    inc = full()
    back = _stored(store, incident_row(inc), IncidentRow, inc.id)
    assert isinstance(back, IncidentRow)
    # evidence ids and cameras live in the evidence table; the row holds everything else
    assert incident_from_row(back, inc.evidence_ids, inc.cameras) == inc
    placeless = replace(inc, id="inc-2", location=None, cell="", district=None)
    back2 = _stored(store, incident_row(placeless), IncidentRow, "inc-2")
    assert incident_from_row(back2, inc.evidence_ids, inc.cameras) == placeless  # type: ignore[arg-type]


def test_dispatch_evidence_and_hotspot_rows_round_trip(tmp_path: object) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/m.db")
    inc = full()
    _stored(store, incident_row(inc), IncidentRow, inc.id)
    assert inc.routing is not None
    d = Dispatch(
        id="dsp-1", incident_id=inc.id, department="water_drainage", category=inc.category,
        district=inc.district, severity=inc.severity, created_at=T0,
        routing=inc.routing.model_copy(update={"advice": None}), summary="s",
    )  # fmt: skip
    back = _stored(store, dispatch_row(d), DispatchRow, d.id)
    assert dispatch_from_row(back) == d  # type: ignore[arg-type]
    obs = Observation(
        id="o1", source="ticket", source_id="T-1", category="flooding", confidence=0.9,
        observed_at=T0, precision="district", district="xicheng", text="积水",
    )  # fmt: skip
    ev = _stored(store, evidence_row(obs, inc.id), EvidenceRow, "o1")
    assert isinstance(ev, EvidenceRow)
    assert (ev.incident_id, ev.source_id, ev.text, ev.rule) == (inc.id, "T-1", "积水", None)
    alert = HotspotAlert(
        id="hot-1", category="noise", district="xicheng", cell="87309a", opened_at=T0,
        updated_at=T0, count=5, baseline=0.5,
    )  # fmt: skip
    assert hotspot_from_row(_stored(store, hotspot_row(alert), HotspotRow, "hot-1")) == alert  # type: ignore[arg-type]


def test_every_incident_column_has_exactly_one_writer() -> None:
    owned = [c for cols in INCIDENT_WRITERS.values() for c in cols]
    assert len(owned) == len(set(owned)), "a column with two writers"
    columns = {c.name for c in IncidentRow.__table__.columns}
    # the key, and the live views' change cursor every write moves
    assert columns - set(owned) == {"id", "written_at"}
    assert set(owned) <= columns
