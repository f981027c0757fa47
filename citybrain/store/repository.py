"""Reads and idempotent writes over the tables, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from citybrain.core.fusion import IncidentState
from citybrain.core.messages import Dispatch, GeoPoint, Incident, Observation, RoutingDecision
from citybrain.store.models import Base, DispatchRow, EvidenceRow, IncidentRow, PipelineStatsRow


@dataclass
class IncidentWrite:
    state: IncidentState
    routing: RoutingDecision
    summary: str
    evidence: list[Observation] = field(default_factory=list)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Store:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        Base.metadata.create_all(engine)
        return cls(engine)

    # --- writes (one transaction per call; callers batch through write_incidents) ---
    def write_incidents(
        self, items: Iterable[IncidentWrite], dispatches: Iterable[Dispatch] = ()
    ) -> None:
        """One transaction: incidents, their new evidence, then dispatches not yet stored."""
        with self.sessions.begin() as s:
            for w in items:
                s.merge(_incident_row(w.state, w.routing, w.summary))
                for obs in w.evidence:
                    s.merge(_evidence_row(obs, w.state.id))
            s.flush()
            for d in dispatches:
                if s.get(DispatchRow, d.id) is None:
                    s.add(_dispatch_row(d))

    def write_stats(self, job: str, counters: dict[str, int]) -> None:
        with self.sessions.begin() as s:
            s.merge(PipelineStatsRow(job=job, updated_at=datetime.now(UTC), counters=counters))

    # --- reads ---
    def open_incidents(self) -> list[IncidentState]:
        with self.sessions() as s:
            rows = s.scalars(select(IncidentRow).where(IncidentRow.status != "resolved")).all()
            ev = _evidence_ids(s, [r.id for r in rows])
            return [_state(r, ev.get(r.id, ())) for r in rows]

    def incidents(self, status: str | None = None, limit: int = 500) -> list[IncidentRow]:
        with self.sessions() as s:
            q = select(IncidentRow).order_by(IncidentRow.updated_at.desc()).limit(limit)
            if status == "open":
                q = q.where(IncidentRow.status != "resolved")
            elif status:
                q = q.where(IncidentRow.status == status)
            return list(s.scalars(q).all())

    def incident_models(self, status: str | None = None, limit: int = 500) -> list[Incident]:
        """Incidents as the published contract (what the API serves)."""
        rows = self.incidents(status, limit)
        with self.sessions() as s:
            ev = _evidence_ids(s, [r.id for r in rows])
        return [incident_from_row(r, ev.get(r.id, ())) for r in rows]

    def dispatch_models(self, department: str | None = None) -> list[Dispatch]:
        return [_dispatch(d) for d in self.dispatches(department)]

    def incident(self, incident_id: str) -> tuple[IncidentRow, list[EvidenceRow]] | None:
        with self.sessions() as s:
            row = s.get(IncidentRow, incident_id)
            if row is None:
                return None
            ev = s.scalars(
                select(EvidenceRow)
                .where(EvidenceRow.incident_id == incident_id)
                .order_by(EvidenceRow.observed_at)
            ).all()
            return row, list(ev)

    def evidence(self) -> list[EvidenceRow]:
        with self.sessions() as s:
            return list(s.scalars(select(EvidenceRow)).all())

    def dispatches(self, department: str | None = None) -> list[DispatchRow]:
        with self.sessions() as s:
            q = select(DispatchRow).order_by(DispatchRow.created_at)
            if department:
                q = q.where(DispatchRow.department == department)
            return list(s.scalars(q).all())

    def counts_by(self, column: str, open_only: bool = True) -> dict[str, int]:
        col = getattr(IncidentRow, column)
        with self.sessions() as s:
            q = select(col, func.count()).group_by(col)
            if open_only:
                q = q.where(IncidentRow.status != "resolved")
            return {"unlocated" if k is None else str(k): int(n) for k, n in s.execute(q).all()}

    def stats(self) -> dict[str, dict[str, Any]]:
        with self.sessions() as s:
            return {
                r.job: {"updated_at": r.updated_at, **r.counters}
                for r in s.scalars(select(PipelineStatsRow)).all()
            }


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    """WAL lets the web server read while the incident worker writes."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _incident_row(st: IncidentState, routing: RoutingDecision, summary: str) -> IncidentRow:
    return IncidentRow(
        id=st.id,
        category=st.category,
        status=st.status,
        severity=st.severity,
        district=st.district,
        lon=st.location.lon if st.location else None,
        lat=st.location.lat if st.location else None,
        opened_at=st.opened_at,
        updated_at=st.updated_at,
        resolved_at=st.resolved_at,
        camera_count=st.camera_count,
        ticket_count=st.ticket_count,
        department=routing.department,
        decided_by=routing.decided_by,
        routing_reason=routing.reason,
        summary=summary,
    )


def _evidence_row(o: Observation, incident_id: str) -> EvidenceRow:
    return EvidenceRow(
        observation_id=o.id,
        incident_id=incident_id,
        source=o.source,
        source_id=o.source_id,
        category=o.category,
        observed_at=o.observed_at,
        precision=o.precision,
        lon=o.location.lon if o.location else None,
        lat=o.location.lat if o.location else None,
        confidence=o.confidence,
        text=o.text,
        frame_ref=o.frame_ref,
    )


def _dispatch_row(d: Dispatch) -> DispatchRow:
    return DispatchRow(
        id=d.id,
        incident_id=d.incident_id,
        department=d.department,
        category=d.category,
        district=d.district,
        severity=d.severity,
        created_at=d.created_at,
        decided_by=d.routing.decided_by,
        reason=d.routing.reason,
        summary=d.summary,
    )


def _evidence_ids(s: Session, incident_ids: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    if incident_ids:
        q = (
            select(EvidenceRow.incident_id, EvidenceRow.observation_id)
            .where(EvidenceRow.incident_id.in_(incident_ids))
            .order_by(EvidenceRow.observed_at, EvidenceRow.observation_id)
        )
        for iid, oid in s.execute(q).all():
            out.setdefault(iid, []).append(oid)
    return {k: tuple(v) for k, v in out.items()}


def _state(r: IncidentRow, evidence_ids: tuple[str, ...]) -> IncidentState:
    return IncidentState(
        id=r.id,
        category=r.category,
        district=r.district,
        location=GeoPoint(lon=r.lon, lat=r.lat)
        if r.lon is not None and r.lat is not None
        else None,
        opened_at=r.opened_at,
        updated_at=r.updated_at,
        status=r.status,
        resolved_at=r.resolved_at,
        evidence_ids=evidence_ids,
        camera_count=r.camera_count,
        ticket_count=r.ticket_count,
        severity=r.severity,
    )


def _point(r: IncidentRow) -> GeoPoint | None:
    return GeoPoint(lon=r.lon, lat=r.lat) if r.lon is not None and r.lat is not None else None


def incident_from_row(r: IncidentRow, evidence_ids: tuple[str, ...]) -> Incident:
    st = _state(r, evidence_ids)
    return Incident(
        id=r.id,
        category=r.category,
        status=r.status,
        severity=r.severity,
        district=r.district,
        location=st.location,
        opened_at=st.opened_at,
        updated_at=st.updated_at,
        resolved_at=st.resolved_at,
        evidence_ids=evidence_ids,
        camera_count=r.camera_count,
        ticket_count=r.ticket_count,
        routing=RoutingDecision(
            department=r.department,
            decided_by=r.decided_by,
            reason=r.routing_reason,
        ),
        summary=r.summary,
    )


def _dispatch(d: DispatchRow) -> Dispatch:
    return Dispatch(
        id=d.id,
        incident_id=d.incident_id,
        department=d.department,
        category=d.category,
        district=d.district,
        severity=d.severity,
        created_at=d.created_at,
        routing=RoutingDecision(department=d.department, decided_by=d.decided_by, reason=d.reason),
        summary=d.summary,
    )
