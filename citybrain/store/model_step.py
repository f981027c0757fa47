"""Writes and reads of the model step: decisions, summaries, the audit log and the outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from citybrain.core.messages import Dispatch, GeneratedLabel, KeyFacts, RoutingDecision
from citybrain.core.model_calls import ModelCall
from citybrain.store.mappers import dispatch_row, routing_values
from citybrain.store.models import DeliveryRow, DispatchRow, IncidentRow, ModelCallRow, SummaryRow
from citybrain.store.summary_queue import enqueue


@dataclass
class Decision:
    """What the model step decided for one incident."""

    incident_id: str
    routing: RoutingDecision
    summary: str
    label: GeneratedLabel
    facts: KeyFacts


@dataclass
class Delivery:
    id: str
    department: str
    url: str
    payload: str


@dataclass
class DispatchStep:
    decisions: list[Decision] = field(default_factory=list)
    dispatches: list[Dispatch] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)  # incidents whose summary goes to the queue

    def __bool__(self) -> bool:
        return bool(
            self.decisions or self.dispatches or self.deliveries or self.calls or self.queued
        )


def write_step(s: Session, step: DispatchStep) -> None:
    """One transaction (the caller's): audit rows, decisions, new dispatches, their deliveries."""
    now = datetime.now(UTC)
    for c in step.calls:
        s.merge(_call_row(c))
    for d in step.decisions:
        s.execute(
            update(IncidentRow)
            .where(IncidentRow.id == d.incident_id)
            .values(**routing_values(d.routing), summary=d.summary)
        )
        old = s.get(SummaryRow, d.incident_id)
        same_text = old is not None and old.text == d.summary
        s.merge(
            SummaryRow(
                incident_id=d.incident_id,
                text=d.summary,
                language=d.label.language,
                generated_by=d.label.generated_by,
                model=d.label.model,
                prompt_version=d.label.prompt_version,
                # a confirmation holds only for the text the dispatcher read
                verified=bool(old and same_text and old.verified),
                verified_by=old.verified_by if old and same_text else None,
                verified_at=old.verified_at if old and same_text else None,
                note=d.label.note,
                facts=d.facts.model_dump(mode="json"),
                updated_at=now,
            )
        )
    s.flush()
    for disp in step.dispatches:
        if s.get(DispatchRow, disp.id) is None:
            s.add(dispatch_row(disp))
    for dl in step.deliveries:
        add_delivery(s, dl, now)
    enqueue(s, step.queued, now)


def write_summary(
    s: Session,
    incident_id: str,
    summary: str,
    label: GeneratedLabel,
    facts: KeyFacts,
    calls: list[ModelCall],
    deliveries: list[Delivery],
) -> None:
    """What the summary queue's worker writes, in one transaction: the audit rows, the
    summary (only that: routing stays the dispatch job's), and the follow-up deliveries."""
    now = datetime.now(UTC)
    for c in calls:
        s.merge(_call_row(c))
    if s.get(IncidentRow, incident_id) is not None:
        s.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(summary=summary))
    old = s.get(SummaryRow, incident_id)
    same_text = old is not None and old.text == summary
    s.merge(
        SummaryRow(
            incident_id=incident_id,
            text=summary,
            language=label.language,
            generated_by=label.generated_by,
            model=label.model,
            prompt_version=label.prompt_version,
            verified=bool(old and same_text and old.verified),
            verified_by=old.verified_by if old and same_text else None,
            verified_at=old.verified_at if old and same_text else None,
            note=label.note,
            facts=facts.model_dump(mode="json"),
            updated_at=now,
        )
    )
    s.flush()
    for dl in deliveries:
        add_delivery(s, dl, now)


def add_delivery(s: Session, dl: Delivery, now: datetime) -> None:
    """Queue a webhook delivery in the outbox (once per dispatch id), in the caller's
    transaction, so it exists exactly when its dispatch does."""
    if s.get(DeliveryRow, dl.id) is None:
        s.add(
            DeliveryRow(
                id=dl.id,
                department=dl.department,
                url=dl.url,
                payload=dl.payload,
                status="pending",
                attempts=0,
                next_at=now,
                last_error="",
            )
        )


def _call_row(c: ModelCall) -> ModelCallRow:
    return ModelCallRow(
        id=c.id,
        at=c.at,
        purpose=c.purpose,
        incident_id=c.incident_id,
        model=c.model,
        prompt_version=c.prompt_version,
        prompt=json.dumps(c.prompt, ensure_ascii=False),
        response=c.response,
        latency_ms=c.latency_ms,
        outcome=c.outcome,
        detail=c.detail,
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
    )


def call_dict(r: ModelCallRow) -> dict[str, Any]:
    """An audit row as exported (JSON lines) and served."""
    return {
        "id": r.id,
        "at": r.at.isoformat(),
        "purpose": r.purpose,
        "incident_id": r.incident_id,
        "model": r.model,
        "prompt_version": r.prompt_version,
        "prompt": json.loads(r.prompt),
        "response": r.response,
        "latency_ms": r.latency_ms,
        "outcome": r.outcome,
        "detail": r.detail,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
    }


def due_deliveries(s: Session, department: str, now: datetime, limit: int) -> list[DeliveryRow]:
    """The department's deliveries to send now, in its order. A delivery that failed (backing
    off) or is in flight (claimed) holds the whole department: nothing after it is due until
    it is delivered or dead-lettered, so a receiver never gets a follow-up before its dispatch.
    It goes first once due (it has attempts; untried ones keep the order they were written)."""
    mine = and_(DeliveryRow.department == department, DeliveryRow.status == "pending")
    held = s.scalar(select(DeliveryRow.id).where(mine, DeliveryRow.next_at > now).limit(1))
    if held is not None:
        return []
    q = (
        select(DeliveryRow)
        .where(mine, DeliveryRow.next_at <= now)
        .order_by((DeliveryRow.attempts > 0).desc(), DeliveryRow.next_at, DeliveryRow.id)
        .limit(limit)
    )
    return list(s.scalars(q).all())
