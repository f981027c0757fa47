"""Reads and idempotent writes over the tables, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from citybrain.config.store import StoreSettings
from citybrain.core.hot_live import LiveHotIssue
from citybrain.core.hotspots import HotspotAlert, top_recurring
from citybrain.core.incident import Incident
from citybrain.core.messages import (
    Dispatch,
    Observation,
)
from citybrain.store import schema
from citybrain.store.dispatch_records import DispatchRecords
from citybrain.store.mappers import (
    STATE_COLUMNS,
    dispatch_from_row,
    dispatch_row,
    evidence_row,
    hot_issue_from_row,
    hot_issue_row,
    hotspot_from_row,
    hotspot_row,
    incident_from_row,
    incident_row,
    state_values,
)
from citybrain.store.models import (
    DispatchRow,
    EvidenceRow,
    HotIssueRow,
    HotspotRow,
    IncidentRow,
    PipelineStatsRow,
)
from citybrain.store.outbox import Outbox
from citybrain.streams.records import Output

# Errors that mean "the database is not reachable right now" (down, restarting, locked): a
# worker pauses and retries on these instead of exiting (streams/worker.py).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


@dataclass
class IncidentWrite:
    """An incident the incident job changed, with the evidence that changed it."""

    incident: Incident
    evidence: list[Observation] = field(default_factory=list)


class Store(DispatchRecords):
    """Reads and writes of incidents, evidence, hot spots and counters; the dispatch job's
    records (decisions, summaries, audit log, webhook deliveries) come from DispatchRecords."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: StoreSettings) -> Store:
        """The store the settings name, its schema upgraded at start if store.auto_migrate."""
        return cls.from_url(settings.url, auto_migrate=settings.auto_migrate)

    @classmethod
    def from_url(cls, url: str, auto_migrate: bool = True) -> Store:
        """Open the database at `url`; with `auto_migrate` upgrade its schema to this code's
        (a fresh one is created), else refuse one that is not at it (store/schema.py)."""
        engine = make_engine(url)
        schema.ensure(engine, auto_migrate)
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

        The incident job creates an incident's row and then writes only its fused state
        (mappers.STATE_COLUMNS): the routing and summary are the dispatch job's from then on."""
        items = list(items)
        with self.sessions.begin() as s:
            ids = [w.incident.id for w in items]
            stored = {
                r.id: r for r in s.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids)))
            }
            for w in items:
                old = stored.get(w.incident.id)
                if old is None:
                    s.add(incident_row(w.incident))
                else:
                    values = state_values(w.incident)
                    for column in STATE_COLUMNS:
                        setattr(old, column, values[column])
                for obs in w.evidence:
                    s.merge(evidence_row(obs, w.incident.id))
            s.flush()
            for d in dispatches:
                if s.get(DispatchRow, d.id) is None:
                    s.add(dispatch_row(d))
            if outbox is not None:
                outbox.write(s, messages)

    def write_stats(self, job: str, counters: dict[str, int], keep_s: float = 86_400.0) -> None:
        """A worker's counters (one row per worker process, named with its pid); rows of
        workers silent for `keep_s` go, so restarts do not pile up for ever."""
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            s.merge(PipelineStatsRow(job=job, updated_at=now, counters=counters))
            s.execute(
                delete(PipelineStatsRow).where(
                    PipelineStatsRow.updated_at < now - timedelta(seconds=keep_s)
                )
            )

    def ping(self) -> None:
        """One read of a small table (readiness; SQLite answers `SELECT 1` without its file);
        raises when the database is unreachable."""
        with self.sessions() as s:
            s.execute(select(PipelineStatsRow.job).limit(1))

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
                s.merge(hotspot_row(a))
            if outbox is not None:
                outbox.write(s, messages)

    def write_hot_issues(
        self,
        issues: Iterable[LiveHotIssue],
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """Upsert live hot issues by id (an issue is updated in place as it grows or closes),
        with the messages that announce them."""
        with self.sessions.begin() as s:
            for i in issues:
                s.merge(hot_issue_row(i))
            if outbox is not None:
                outbox.write(s, messages)

    # --- reads ---
    def open_incidents(self, resolved_since: datetime | None = None) -> list[Incident]:
        """Open incidents, plus those resolved at or after `resolved_since` (they may reopen)."""
        with self.sessions() as s:
            cond = IncidentRow.status != "resolved"
            if resolved_since is not None:
                cond = cond | (IncidentRow.resolved_at >= resolved_since)
            rows = s.scalars(select(IncidentRow).where(cond)).all()
            ev = _evidence_of(s, [r.id for r in rows])
            return [incident_from_row(r, *ev.get(r.id, ((), ()))) for r in rows]

    def incidents(self, status: str | None = None, limit: int = 500) -> list[IncidentRow]:
        with self.sessions() as s:
            q = select(IncidentRow).order_by(IncidentRow.updated_at.desc()).limit(limit)
            if status == "open":
                q = q.where(IncidentRow.status != "resolved")
            elif status:
                q = q.where(IncidentRow.status == status)
            return list(s.scalars(q).all())

    def incident_list(self, status: str | None = None, limit: int = 500) -> list[Incident]:
        """Incidents with their evidence ids, newest first (what a recorded run keeps)."""
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

    def load_incident(self, incident_id: str) -> Incident | None:
        with self.sessions() as s:
            row = s.get(IncidentRow, incident_id)
            if row is None:
                return None
            return incident_from_row(row, *_evidence_of(s, [row.id]).get(row.id, ((), ())))

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
            return hotspot_from_row(row) if row is not None else None

    def open_hotspot_alerts(self) -> list[HotspotAlert]:
        return [hotspot_from_row(r) for r in self.hotspots(open_only=True, limit=100_000)]

    def hot_issues(self, open_only: bool = True, limit: int = 100) -> list[HotIssueRow]:
        """Hot issues, hottest first (then most recently updated)."""
        with self.sessions() as s:
            q = select(HotIssueRow).order_by(
                HotIssueRow.hotness.desc(), HotIssueRow.updated_at.desc(), HotIssueRow.id
            )
            if open_only:
                q = q.where(HotIssueRow.status == "open")
            return list(s.scalars(q.limit(limit)).all())

    def hot_issue(self, issue_id: str) -> HotIssueRow | None:
        with self.sessions() as s:
            return s.get(HotIssueRow, issue_id)

    def open_hot_issues(self) -> list[LiveHotIssue]:
        return [hot_issue_from_row(r) for r in self.hot_issues(open_only=True, limit=100_000)]

    def ticket_texts(self, incident_ids: list[str]) -> dict[str, str]:
        """The redacted report texts behind these incidents, by observation id (what fusion's
        paraphrase join compares new tickets with after a restart)."""
        if not incident_ids:
            return {}
        with self.sessions() as s:
            q = select(EvidenceRow.observation_id, EvidenceRow.text).where(
                EvidenceRow.incident_id.in_(incident_ids),
                EvidenceRow.source == "ticket",
                EvidenceRow.text.is_not(None),
            )
            return {oid: text for oid, text in s.execute(q).all() if text}

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


def make_engine(url: str) -> Engine:
    """An engine on `url`; a SQLite file gets its folder, a 30 s lock wait and WAL."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    """WAL lets the web server read while the incident worker writes."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


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
