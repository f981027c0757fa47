"""The durable queue of summary work: one row per incident, in the store.

Routing never waits for a summary; it queues one. The row is coalesced: an incident updated
five times while queued is one row whose `version` went up five times, and the worker that
finishes an older version leaves the row pending, so the summary written last is of the
latest state. A failed call backs off (`next_at`), a worker that dies mid-call loses its lease
(`claimed_until`) and the row is taken again, and after `max_attempts` the row is kept as
`failed` (the labelled template stays): nothing is dropped, and a restart resumes the queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Integer, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from citybrain.store.models import Base, UTCDateTime


class HasSessions(Protocol):
    """What the queue needs of the store (the Store is one): its session factory. A protocol,
    so this module, which model_step imports, does not import the repository back."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...


STATUSES = ("pending", "working", "done", "failed")


class SummaryWorkRow(Base):
    __tablename__ = "summary_work"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every newer change
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|working|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed calls of this version
    next_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class Claim:
    """A piece of work taken by a worker: which incident, at which version."""

    incident_id: str
    version: int
    attempts: int


def enqueue(s: Session, incident_ids: list[str], now: datetime) -> None:
    """Queue (or re-queue) summaries in the caller's transaction; coalesces per incident."""
    for iid in dict.fromkeys(incident_ids):
        row = s.get(SummaryWorkRow, iid)
        if row is None:
            s.add(
                SummaryWorkRow(
                    incident_id=iid, version=1, status="pending", attempts=0, next_at=now,
                    enqueued_at=now, last_error="",
                )
            )  # fmt: skip
            continue
        row.version += 1
        row.enqueued_at = now
        if row.status in ("done", "failed"):
            row.status, row.attempts, row.next_at = "pending", 0, now
        # pending keeps its back-off; working finishes, sees the newer version, re-queues


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Exponential back-off of a failed summary call, capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


class SummaryQueue:
    """Claim, finish and fail summary work against the store (several workers may share it)."""

    def __init__(self, store: HasSessions) -> None:
        self.store = store

    def enqueue(self, incident_ids: list[str]) -> None:
        with self.store.sessions.begin() as s:
            enqueue(s, incident_ids, datetime.now(UTC))

    def claim(self, limit: int, lease_s: float) -> list[Claim]:
        """Up to `limit` due rows, oldest due first; a lapsed lease (its worker died) counts
        as due. Each row is taken by a compare-and-set on its version and status, so two
        workers never take the same row."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=lease_s)
        out: list[Claim] = []
        with self.store.sessions.begin() as s:
            due = s.execute(
                select(SummaryWorkRow.incident_id, SummaryWorkRow.version, SummaryWorkRow.attempts,
                       SummaryWorkRow.status)
                .where(
                    or_(
                        (SummaryWorkRow.status == "pending") & (SummaryWorkRow.next_at <= now),
                        (SummaryWorkRow.status == "working")
                        & (SummaryWorkRow.claimed_until < now),
                    )
                )
                .order_by(SummaryWorkRow.next_at, SummaryWorkRow.incident_id)
                .limit(limit)
            ).all()  # fmt: skip
            for iid, version, attempts, status in due:
                res = s.execute(
                    update(SummaryWorkRow)
                    .where(
                        SummaryWorkRow.incident_id == iid,
                        SummaryWorkRow.version == version,
                        SummaryWorkRow.status == status,
                    )
                    .values(status="working", claimed_until=until)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    out.append(Claim(iid, version, attempts))
        return out

    def done(self, claim: Claim) -> bool:
        """The summary of `claim.version` is written. False when a newer change arrived
        meanwhile: the row stays pending and the next claim summarises the latest state."""
        now = datetime.now(UTC)
        with self.store.sessions.begin() as s:
            row = s.get(SummaryWorkRow, claim.incident_id)
            if row is None:
                return True
            if row.version != claim.version:
                row.status, row.attempts, row.next_at = "pending", 0, now
                row.claimed_until = None
                return False
            row.status, row.done_at, row.claimed_until, row.last_error = "done", now, None, ""
            return True

    def fail(self, claim: Claim, error: str, max_attempts: int, base_s: float, max_s: float) -> str:
        """A call that did not give a usable summary: back off and try again, or, after
        `max_attempts`, keep the row as failed (the template stays). Returns the new status."""
        now = datetime.now(UTC)
        with self.store.sessions.begin() as s:
            row = s.get(SummaryWorkRow, claim.incident_id)
            if row is None:
                return "done"
            row.claimed_until = None
            row.last_error = error[:500]
            if row.version != claim.version:  # a newer state: a fresh start for it
                row.status, row.attempts, row.next_at = "pending", 0, now
                return row.status
            row.attempts += 1
            if row.attempts >= max_attempts:
                row.status = "failed"
            else:
                row.status = "pending"
                row.next_at = now + timedelta(seconds=backoff_s(row.attempts, base_s, max_s))
            return row.status

    def release(self, claim: Claim) -> None:
        """Give a claimed row back untouched (the worker is stopping)."""
        with self.store.sessions.begin() as s:
            row = s.get(SummaryWorkRow, claim.incident_id)
            if row is not None and row.status == "working":
                row.status, row.claimed_until = "pending", None

    def counts(self) -> dict[str, int]:
        """Rows by status (pending includes those being worked on)."""
        with self.store.sessions() as s:
            rows = s.execute(
                select(SummaryWorkRow.status, func.count()).group_by(SummaryWorkRow.status)
            ).all()
        c: Counter[str] = Counter({st: 0 for st in STATUSES})
        for status, n in rows:
            c[status] += n
        return dict(c)

    def row(self, incident_id: str) -> SummaryWorkRow | None:
        with self.store.sessions() as s:
            return s.get(SummaryWorkRow, incident_id)


def summary_counts(store: HasSessions) -> dict[str, int]:
    """Incidents by the summary a dispatcher reads: `model` (a model summary that passed the
    guards), `pending` (queued or being written, the template meanwhile), `template` (the
    template for good: the guards rejected the model's, the model is off, or it gave up)."""
    from citybrain.store.models import IncidentRow, SummaryRow

    with store.sessions() as s:
        rows = s.execute(
            select(IncidentRow.id, SummaryRow.generated_by, SummaryWorkRow.status)
            .outerjoin(SummaryRow, SummaryRow.incident_id == IncidentRow.id)
            .outerjoin(SummaryWorkRow, SummaryWorkRow.incident_id == IncidentRow.id)
        ).all()
    out = {"model": 0, "template": 0, "pending": 0}
    for _, by, status in rows:
        if status in ("pending", "working"):
            out["pending"] += 1
        elif by == "model":
            out["model"] += 1
        else:
            out["template"] += 1
    return out
