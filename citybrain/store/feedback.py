"""Dispatchers' reassignments as labelled examples: the ticket texts of an incident and the
department a person finally moved it to. The router learns from its corrections through
`citybrain router feedback` and `router train --feedback`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from citybrain.store.models import EvidenceRow, IncidentRow
from citybrain.store.repository import Store
from citybrain.store.web_models import ActionRow


@dataclass(frozen=True)
class FeedbackExample:
    text: str  # redacted ticket text, as stored
    department: str
    district: str | None
    at: datetime  # when the dispatcher moved it
    incident_id: str


def reassigned_examples(store: Store) -> list[FeedbackExample]:
    """One example per ticket of each reassigned incident, labelled with the last department
    a dispatcher moved the incident to."""
    with store.sessions() as s:
        moves = s.scalars(
            select(ActionRow).where(ActionRow.action == "reassign").order_by(ActionRow.at)
        ).all()
        last = {m.incident_id: m for m in moves}  # the newest word per incident
        if not last:
            return []
        districts = dict(
            s.execute(
                select(IncidentRow.id, IncidentRow.district).where(IncidentRow.id.in_(last))
            ).all()
        )
        evidence = s.scalars(
            select(EvidenceRow)
            .where(EvidenceRow.incident_id.in_(last), EvidenceRow.source == "ticket")
            .order_by(EvidenceRow.observed_at)
        ).all()
    return [
        FeedbackExample(
            e.text,
            last[e.incident_id].department_to,
            districts.get(e.incident_id),
            last[e.incident_id].at,
            e.incident_id,
        )
        for e in evidence
        if e.text
    ]
