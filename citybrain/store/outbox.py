"""The transactional outbox: messages a job emits because of a state change are written in the
same transaction as that change, and the worker sends them after the commit.

Why: sending after the store write loses the message when the process dies in between (the
replayed input is recognised as already applied, so nothing would send it again); sending
before the write announces a change the store may never hold. Here the row and the change
commit together, so a crash at any point leaves either neither or both, and a row not marked
sent is sent by whoever holds the job next.

Exactly once per idempotency key: the key (the message's `idempotency-key` header, or a hash
of topic, key and value) is unique in the table, so a replayed batch that emits the same
message again adds nothing. On the wire it is at least once: a worker killed after the broker
acknowledged a message and before the row was marked sent sends it again after its lease
ends, with the same `idempotency-key` header, which consumers key their effects by.

Each row is leased to the process that wrote or claimed it (`claim`, `lease_until`), so several
workers of one job never send each other's rows while both live; a dead worker's rows are
taken over once its lease has run out.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import JSON

from citybrain.store.models import Base, UTCDateTime
from citybrain.streams.records import Output

IDEMPOTENCY_HEADER = "idempotency-key"


class OutboxRow(Base):
    """One message waiting to be sent (sent_at null) or recently sent (kept for dedup)."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # send order
    id: Mapped[str] = mapped_column(String(200), unique=True)  # the idempotency key
    job: Mapped[str] = mapped_column(String(64), index=True)
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list[list[str]]] = mapped_column(JSON)  # [name, base64 value]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claim: Mapped[str] = mapped_column(String(32))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


def idempotency_key(out: Output) -> str:
    """The message's own key if it carries one, else a hash of what it says and where."""
    for name, value in out.headers:
        if name == IDEMPOTENCY_HEADER:
            return f"{out.topic}:{value.decode(errors='replace')}"
    h = hashlib.sha256(out.topic.encode() + b"\0" + (out.key or b"") + b"\0" + out.value)
    return f"{out.topic}:{h.hexdigest()[:40]}"


@dataclass(frozen=True)
class Pending:
    """A claimed row, ready to send."""

    seq: int
    id: str
    output: Output


class Outbox:
    """One job's view of the outbox: stage rows in a store transaction, take, mark sent."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job: str,
        lease_s: float = 30.0,
        keep_s: float = 86_400.0,
    ) -> None:
        self.sessions = sessions
        self.job = job
        self.lease = timedelta(seconds=lease_s)
        self.keep = timedelta(seconds=keep_s)
        self.token = uuid.uuid4().hex
        self.written = 0  # rows this process staged that committed with their transaction

    def write(self, s: Session, outputs: Sequence[Output]) -> None:
        """Stage `outputs` in the caller's transaction; a key already there is skipped."""
        if not outputs:
            return
        now = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        for out in outputs:
            key = idempotency_key(out)
            headers = list(out.headers)
            if not any(n == IDEMPOTENCY_HEADER for n, _ in headers):
                headers.append((IDEMPOTENCY_HEADER, key.encode()))
            rows[key] = dict(
                id=key,
                job=self.job,
                topic=out.topic,
                key=out.key,
                value=out.value,
                headers=[[n, base64.b64encode(v).decode()] for n, v in headers],
                created_at=now,
                claim=self.token,
                lease_until=now + self.lease,
            )
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(OutboxRow)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        s.execute(stmt)
        self.written += len(rows)

    def take(self, limit: int = 1000) -> list[Pending]:
        """Rows to send now, in the order they were written: this process's own, and any whose
        holder's lease ran out (it died). Claimed for one lease."""
        now = datetime.now(UTC)
        mine_or_free = or_(OutboxRow.claim == self.token, OutboxRow.lease_until < now)
        with self.sessions.begin() as s:
            seqs = list(
                s.scalars(
                    select(OutboxRow.seq)
                    .where(OutboxRow.job == self.job, OutboxRow.sent_at.is_(None), mine_or_free)
                    .order_by(OutboxRow.seq)
                    .limit(limit)
                )
            )
            if not seqs:
                return []
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.seq.in_(seqs), OutboxRow.sent_at.is_(None), mine_or_free)
                .values(claim=self.token, lease_until=now + self.lease)
            )
            rows = s.scalars(
                select(OutboxRow)
                .where(OutboxRow.seq.in_(seqs), OutboxRow.claim == self.token)
                .order_by(OutboxRow.seq)
            ).all()
            return [Pending(r.seq, r.id, _output(r)) for r in rows]

    def mark_sent(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            s.execute(update(OutboxRow).where(OutboxRow.seq.in_(seqs)).values(sent_at=now))
            # sent rows are kept `keep_s` so a replay within that time cannot send them twice
            s.execute(
                delete(OutboxRow).where(
                    OutboxRow.job == self.job, OutboxRow.sent_at < now - self.keep
                )
            )

    def release(self, seqs: Iterable[int]) -> None:
        """Give up the claim on rows this process could not send, so any holder (the web's
        background drain, another worker) may send them now instead of after the lease."""
        seqs = list(seqs)
        if not seqs:
            return
        with self.sessions.begin() as s:
            s.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.seq.in_(seqs),
                    OutboxRow.claim == self.token,
                    OutboxRow.sent_at.is_(None),
                )
                .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )

    def unsent(self) -> int:
        """Rows of this job not yet sent (any holder)."""
        with self.sessions() as s:
            return len(
                s.scalars(
                    select(OutboxRow.seq).where(
                        OutboxRow.job == self.job, OutboxRow.sent_at.is_(None)
                    )
                ).all()
            )


def _output(r: OutboxRow) -> Output:
    return Output(
        topic=r.topic,
        key=r.key,
        value=r.value,
        headers=[(n, base64.b64decode(v)) for n, v in r.headers],
    )
