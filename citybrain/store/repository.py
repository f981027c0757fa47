"""Reads and idempotent writes over the tables, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from citybrain.core.facts import incident_message
from citybrain.core.fusion import IncidentState
from citybrain.core.hotspots import HotspotAlert, top_recurring
from citybrain.core.messages import (
    Dispatch,
    GeneratedLabel,
    GeoPoint,
    Incident,
    KeyFacts,
    Observation,
    RouterAdvice,
    RoutingDecision,
)
from citybrain.store import model_step
from citybrain.store.models import (
    Base,
    DeliveryRow,
    DispatchRow,
    EvidenceRow,
    HotspotRow,
    IncidentRow,
    ModelCallRow,
    PipelineStatsRow,
    SummaryRow,
)
from citybrain.store.outbox import Outbox
from citybrain.streams.records import Output

# Errors that mean "the database is not reachable right now" (down, restarting, locked): a
# worker pauses and retries on these instead of exiting (streams/worker.py).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


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

    def outbox(self, job: str, lease_s: float = 30.0) -> Outbox:
        """`job`'s transactional outbox (store/outbox.py): pass it with the messages to the
        write that causes them, and the worker sends them after the commit."""
        return Outbox(self.sessions, job, lease_s)

    # --- writes (one transaction per call; callers batch through write_incidents) ---
    def write_incidents(
        self,
        items: Iterable[IncidentWrite],
        dispatches: Iterable[Dispatch] = (),
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """One transaction: incidents, their new evidence, dispatches not yet stored, and the
        messages announcing them (into `outbox`, sent after the commit).

        The incident job writes the rules' routing and a template summary with every update;
        the dispatch job's decision (a model's routing, a model summary) must survive those
        writes while what it was decided from (category, district) is unchanged."""
        items = list(items)
        with self.sessions.begin() as s:
            ids = [w.state.id for w in items]
            # one query each for the batch; the loaded rows also spare merge() its own lookups
            stored = {
                r.id: r for r in s.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids)))
            }
            by_model = set(
                s.scalars(
                    select(SummaryRow.incident_id).where(
                        SummaryRow.incident_id.in_(ids), SummaryRow.generated_by == "model"
                    )
                )
            )
            for w in items:
                row = _incident_row(w.state, w.routing, w.summary)
                old = stored.get(row.id)
                if old is not None and (old.category, old.district) == (row.category, row.district):
                    row.department, row.decided_by = old.department, old.decided_by
                    row.routing_reason = old.routing_reason
                    row.routing_advice = old.routing_advice
                    if row.id in by_model:
                        row.summary = old.summary
                s.merge(row)
                for obs in w.evidence:
                    s.merge(_evidence_row(obs, w.state.id))
            s.flush()
            for d in dispatches:
                if s.get(DispatchRow, d.id) is None:
                    s.add(_dispatch_row(d))
            if outbox is not None:
                outbox.write(s, messages)

    def write_stats(self, job: str, counters: dict[str, int]) -> None:
        with self.sessions.begin() as s:
            s.merge(PipelineStatsRow(job=job, updated_at=datetime.now(UTC), counters=counters))

    def write_hotspots(
        self,
        alerts: Iterable[HotspotAlert],
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """Upsert hot-spot alerts by id (an alert is updated in place as it grows or closes),
        with the messages that announce them."""
        with self.sessions.begin() as s:
            for a in alerts:
                s.merge(_hotspot_row(a))
            if outbox is not None:
                outbox.write(s, messages)

    # --- reads ---
    def open_incidents(self, resolved_since: datetime | None = None) -> list[IncidentState]:
        """Open incidents, plus those resolved at or after `resolved_since` (they may reopen)."""
        with self.sessions() as s:
            cond = IncidentRow.status != "resolved"
            if resolved_since is not None:
                cond = cond | (IncidentRow.resolved_at >= resolved_since)
            rows = s.scalars(select(IncidentRow).where(cond)).all()
            ev = _evidence_of(s, [r.id for r in rows])
            return [_state(r, *ev.get(r.id, ((), ()))) for r in rows]

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
        return [dispatch_from_row(d) for d in self.dispatches(department)]

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

    def evidence_row(self, observation_id: str) -> EvidenceRow | None:
        with self.sessions() as s:
            return s.get(EvidenceRow, observation_id)

    def similar_evidence(
        self, observation_id: str, k: int = 10, pool: int = 5000
    ) -> list[tuple[EvidenceRow, float]]:
        """Camera evidence whose frames look most like this one's, best first: cosine of the
        CLIP image embeddings, over the newest `pool` embedded rows. A linear scan is plenty
        for one city's recent evidence; a vector index (pgvector) is the route past that."""
        with self.sessions() as s:
            me = s.get(EvidenceRow, observation_id)
            if me is None or not me.embedding:
                return []
            rows = s.scalars(
                select(EvidenceRow)
                .where(
                    EvidenceRow.embedding.is_not(None),
                    EvidenceRow.observation_id != observation_id,
                )
                .order_by(EvidenceRow.observed_at.desc())
                .limit(pool)
            ).all()
        rows = [r for r in rows if r.embedding and len(r.embedding) == len(me.embedding)]
        if not rows:
            return []
        q = np.asarray(me.embedding, np.float32)
        m = np.asarray([r.embedding for r in rows], np.float32)
        scores = m @ q / np.maximum(np.linalg.norm(m, axis=1) * np.linalg.norm(q), 1e-12)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(rows[i], round(float(scores[i]), 4)) for i in best]

    def incident_state(self, incident_id: str) -> IncidentState | None:
        with self.sessions() as s:
            row = s.get(IncidentRow, incident_id)
            if row is None:
                return None
            return _state(row, *_evidence_of(s, [row.id]).get(row.id, ((), ())))

    def hotspots(self, open_only: bool = True, limit: int = 100) -> list[HotspotRow]:
        """Hot-spot alerts, most recently updated first."""
        with self.sessions() as s:
            q = select(HotspotRow).order_by(HotspotRow.updated_at.desc(), HotspotRow.id)
            if open_only:
                q = q.where(HotspotRow.status == "open")
            return list(s.scalars(q.limit(limit)).all())

    def hotspot(self, alert_id: str) -> HotspotAlert | None:
        with self.sessions() as s:
            row = s.get(HotspotRow, alert_id)
            return _hotspot(row) if row is not None else None

    def open_hotspot_alerts(self) -> list[HotspotAlert]:
        return [_hotspot(r) for r in self.hotspots(open_only=True, limit=100_000)]

    def ticket_evidence_since(self, since: datetime) -> list[tuple[EvidenceRow, str | None]]:
        """Ticket evidence observed at or after `since`, with its incident's district (what
        the hot-spot counts are rebuilt from after a restart)."""
        with self.sessions() as s:
            q = (
                select(EvidenceRow, IncidentRow.district)
                .join(IncidentRow, IncidentRow.id == EvidenceRow.incident_id)
                .where(EvidenceRow.source == "ticket", EvidenceRow.observed_at >= since)
                .order_by(EvidenceRow.observed_at, EvidenceRow.observation_id)
            )
            return [(e, d) for e, d in s.execute(q).all()]

    def digest(
        self, since: datetime | None = None, top: int = 5, now: datetime | None = None
    ) -> dict[str, list[tuple[str, int]]]:
        """Top recurring issues by district: each district's `top` categories by the number of
        incidents opened since `since` (default: the last 7 days before `now`)."""
        since = since or (now or datetime.now(UTC)) - timedelta(days=7)
        with self.sessions() as s:
            q = (
                select(IncidentRow.district, IncidentRow.category, func.count())
                .where(IncidentRow.opened_at >= since)
                .group_by(IncidentRow.district, IncidentRow.category)
            )
            counts = {(d or "unlocated", c): int(n) for d, c, n in s.execute(q).all()}
        return top_recurring(counts, top)

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

    # --- the model step: decisions, summaries, audit log, webhook outbox ---
    def write_dispatch_step(
        self,
        step: model_step.DispatchStep,
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """One transaction: audit rows, routing and summary decisions, dispatches, deliveries,
        and the dispatch messages (into `outbox`, sent after the commit)."""
        with self.sessions.begin() as s:
            model_step.write_step(s, step, _dispatch_row)
            if outbox is not None:
                outbox.write(s, messages)

    def model_calls(self, incident_id: str | None = None, limit: int = 500) -> list[ModelCallRow]:
        """The audit log, newest first."""
        with self.sessions() as s:
            q = select(ModelCallRow).order_by(ModelCallRow.at.desc()).limit(limit)
            if incident_id is not None:
                q = q.where(ModelCallRow.incident_id == incident_id)
            return list(s.scalars(q).all())

    def summary(self, incident_id: str) -> SummaryRow | None:
        with self.sessions() as s:
            return s.get(SummaryRow, incident_id)

    def verify_summary(self, incident_id: str, actor: str) -> bool:
        """A dispatcher confirms the summary they read; False when there is none."""
        with self.sessions.begin() as s:
            row = s.get(SummaryRow, incident_id)
            if row is None:
                return False
            row.verified, row.verified_by, row.verified_at = True, actor, datetime.now(UTC)
            return True

    def due_deliveries(self, department: str, limit: int = 50) -> list[DeliveryRow]:
        with self.sessions() as s:
            return model_step.due_deliveries(s, department, datetime.now(UTC), limit)

    def deliveries(self, department: str | None = None) -> list[DeliveryRow]:
        with self.sessions() as s:
            q = select(DeliveryRow).order_by(DeliveryRow.id)
            if department:
                q = q.where(DeliveryRow.department == department)
            return list(s.scalars(q).all())

    def claim_delivery(self, delivery_id: str, seen_next_at: datetime, until: datetime) -> bool:
        """Take a delivery's next attempt for this sender until `until`. Several dispatch
        workers poll one outbox: a compare-and-set on `next_at` lets exactly one of them send
        (the others see it not due), and a sender that dies frees it when the lease ends."""
        with self.sessions.begin() as s:
            res = s.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == delivery_id,
                    DeliveryRow.status == "pending",
                    DeliveryRow.next_at == seen_next_at,
                )
                .values(next_at=until)
            )
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    def mark_delivery(
        self, delivery_id: str, status: str, attempts: int, next_at: datetime, error: str = ""
    ) -> None:
        with self.sessions.begin() as s:
            row = s.get(DeliveryRow, delivery_id)
            if row is None:
                return
            row.status, row.attempts, row.next_at, row.last_error = status, attempts, next_at, error
            if status == "delivered":
                row.delivered_at = datetime.now(UTC)

    def write_summary(
        self,
        incident_id: str,
        summary: str,
        label: GeneratedLabel,
        facts: KeyFacts,
        calls: list[model_step.ModelCall],
        deliveries: list[model_step.Delivery],
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """The summary queue's result for one incident (see model_step.write_summary), with
        the follow-up messages into `outbox` in the same transaction."""
        with self.sessions.begin() as s:
            model_step.write_summary(s, incident_id, summary, label, facts, calls, deliveries)
            if outbox is not None:
                outbox.write(s, messages)

    def incident_dispatches(self, incident_id: str) -> list[DispatchRow]:
        with self.sessions() as s:
            q = select(DispatchRow).where(DispatchRow.incident_id == incident_id)
            return list(s.scalars(q.order_by(DispatchRow.created_at)).all())

    def sent_dispatches(self) -> dict[str, set[str]]:
        """Incident id -> ids of its dispatches so far, for incidents not resolved (the
        dispatch job's state; resolved ones leave it, so it does not grow without end)."""
        out: dict[str, set[str]] = {}
        with self.sessions() as s:
            rows = s.execute(
                select(DispatchRow.incident_id, DispatchRow.id)
                .join(IncidentRow, IncidentRow.id == DispatchRow.incident_id)
                .where(IncidentRow.status != "resolved")
            ).all()
        for iid, did in rows:
            out.setdefault(iid, set()).add(did)
        return out


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
        routing_advice=_advice_json(routing),
        summary=summary,
        cell=st.cell or None,
        resolved_by=st.resolved_by,
        camera_events=list(st.camera_events),
        reopened=st.reopened,
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
        detections=[d.model_dump(mode="json") for d in o.detections] or None,
        privacy_boxes=[d.model_dump(mode="json") for d in o.privacy_boxes] or None,
        embedding=list(o.embedding) or None,
        rule=_rule(o),
        advice=o.advice.model_dump(mode="json") if o.advice else None,
    )


def _rule(o: Observation) -> dict[str, Any] | None:
    """What a camera rule decided, kept with the evidence (None for tickets)."""
    if o.rule_id is None:
        return None
    return o.model_dump(
        mode="json",
        include={
            "rule_id",
            "rule_state",
            "event_id",
            "event_opened_at",
            "zone",
            "count",
            "track_ids",
            "dwell_s",
            "scene_score",
        },
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
    return {k: ids for k, (ids, _) in _evidence_of(s, incident_ids).items()}


def _evidence_of(
    s: Session, incident_ids: list[str]
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per incident: its evidence ids in order, and the cameras among its sources."""
    ids: dict[str, list[str]] = {}
    cams: dict[str, set[str]] = {}
    if incident_ids:
        q = (
            select(
                EvidenceRow.incident_id,
                EvidenceRow.observation_id,
                EvidenceRow.source,
                EvidenceRow.source_id,
            )
            .where(EvidenceRow.incident_id.in_(incident_ids))
            .order_by(EvidenceRow.observed_at, EvidenceRow.observation_id)
        )
        for iid, oid, source, source_id in s.execute(q).all():
            ids.setdefault(iid, []).append(oid)
            if source == "camera":
                cams.setdefault(iid, set()).add(source_id)
    return {k: (tuple(v), tuple(sorted(cams.get(k, ())))) for k, v in ids.items()}


def _state(
    r: IncidentRow, evidence_ids: tuple[str, ...], cameras: tuple[str, ...] = ()
) -> IncidentState:
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
        cell=r.cell or "",
        resolved_by=r.resolved_by,
        camera_events=tuple(r.camera_events or ()),
        cameras=cameras,
        reopened=r.reopened or 0,
    )


def _hotspot_row(a: HotspotAlert) -> HotspotRow:
    return HotspotRow(**asdict(a))  # the table mirrors the alert field for field


def _hotspot(r: HotspotRow) -> HotspotAlert:
    return HotspotAlert(**{f.name: getattr(r, f.name) for f in fields(HotspotAlert)})


def _point(r: IncidentRow) -> GeoPoint | None:
    return GeoPoint(lon=r.lon, lat=r.lat) if r.lon is not None and r.lat is not None else None


def _advice_json(routing: RoutingDecision) -> dict[str, Any] | None:
    return routing.advice.model_dump(mode="json") if routing.advice else None


def routing_of(r: IncidentRow) -> RoutingDecision:
    advice = RouterAdvice.model_validate(r.routing_advice) if r.routing_advice else None
    return RoutingDecision(
        department=r.department, decided_by=r.decided_by, reason=r.routing_reason, advice=advice
    )


def incident_from_row(r: IncidentRow, evidence_ids: tuple[str, ...]) -> Incident:
    routing = routing_of(r)
    return incident_message(_state(r, evidence_ids), routing, r.summary)


def dispatch_from_row(d: DispatchRow) -> Dispatch:
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
