"""The dispatch job's records in the store: routing and summary decisions, dispatches, the
audit log of model calls, summaries and the webhook deliveries (the outbox the senders poll)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from citybrain.core.ids import dispatch_id
from citybrain.core.messages import GeneratedLabel, KeyFacts
from citybrain.core.summary import summary_digest
from citybrain.store import model_step
from citybrain.store.models import DeliveryRow, DispatchRow, IncidentRow, ModelCallRow, SummaryRow
from citybrain.store.outbox import Outbox
from citybrain.store.web_models import AssignmentRow
from citybrain.streams.records import Output


class DispatchRecords:
    sessions: sessionmaker[Session]

    def write_dispatch_step(
        self,
        step: model_step.DispatchStep,
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """One transaction: audit rows, routing and summary decisions, dispatches, deliveries,
        and the dispatch messages (into `outbox`, sent after the commit)."""
        with self.sessions.begin() as s:
            model_step.write_step(s, step)
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

    def verify_summary(self, incident_id: str, actor: str, shown_sha256: str) -> bool:
        """A dispatcher confirms the summary they read, whose text's sha256 their page sent
        back; False when there is none or it has changed since (nothing is confirmed)."""
        with self.sessions.begin() as s:
            row = s.get(SummaryRow, incident_id)
            if row is None or not hmac.compare_digest(summary_digest(row.text), shown_sha256):
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
                # the attempt counts from its start: a sender that dies mid-attempt leaves the
                # delivery at the head of its department's queue, not behind newer ones
                .values(next_at=until, attempts=DeliveryRow.attempts + 1)
            )
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    def redrive_deliveries(
        self, department: str | None = None, ids: Sequence[str] = ()
    ) -> list[str]:
        """Dead-lettered deliveries back in the queue (attempts from zero, due now; the last
        error kept): after a receiver's long outage. Returns their ids."""
        with self.sessions.begin() as s:
            q = select(DeliveryRow).where(DeliveryRow.status == "dead")
            if department:
                q = q.where(DeliveryRow.department == department)
            if ids:
                q = q.where(DeliveryRow.id.in_(list(ids)))
            rows = list(s.scalars(q.order_by(DeliveryRow.next_at, DeliveryRow.id)).all())
            now = datetime.now(UTC)
            for r in rows:
                r.status, r.attempts, r.next_at = "pending", 0, now
            return [r.id for r in rows]

    def mark_delivery(
        self,
        delivery_id: str,
        status: str,
        attempts: int,
        next_at: datetime,
        error: str = "",
        outbox: Outbox | None = None,
        messages: Sequence[Output] = (),
    ) -> None:
        """Record an attempt's outcome, with the messages it causes (a dead delivery's DLQ
        record) into `outbox` in the same transaction."""
        with self.sessions.begin() as s:
            row = s.get(DeliveryRow, delivery_id)
            if row is None:
                return
            row.status, row.attempts, row.next_at, row.last_error = status, attempts, next_at, error
            if status == "delivered":
                row.delivered_at = datetime.now(UTC)
            if outbox is not None:
                outbox.write(s, messages)

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

    def holders(self, incident_ids: Sequence[str]) -> dict[str, str]:
        """Incident id -> the department a dispatcher's action left it with; incidents nobody
        acted on are absent (their holder is their routing)."""
        if not incident_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(AssignmentRow.incident_id, AssignmentRow.department).where(
                    AssignmentRow.incident_id.in_(list(incident_ids))
                )
            ).all()
        return {iid: dep for iid, dep in rows}

    def holder_dispatch(self, incident_id: str) -> DispatchRow | None:
        """The newest dispatch to the department that holds the incident now (a dispatcher's
        hand, else its routing): where a follow-up about it goes, and nowhere else."""
        with self.sessions() as s:
            asg = s.get(AssignmentRow, incident_id)
            inc = s.get(IncidentRow, incident_id)
            holder = asg.department if asg is not None else inc.department if inc else None
            if holder is None:
                return None
            # the pipeline's dispatch of this life of the incident (a reopen) first: its time
            # is event time, a dispatcher's move is stamped with the wall clock
            if inc is not None:
                this_life = s.get(DispatchRow, dispatch_id(incident_id, holder, inc.reopened))
                if this_life is not None:
                    return this_life
            q = select(DispatchRow).where(
                DispatchRow.incident_id == incident_id, DispatchRow.department == holder
            )
            return s.scalars(q.order_by(DispatchRow.created_at.desc()).limit(1)).first()

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
