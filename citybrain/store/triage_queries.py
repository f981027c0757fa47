"""The triage view's read: open incidents with no category or no place that no one has acted
on yet, newest first (a person's triage choice routes the incident, so it leaves the list)."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from citybrain.core.city import UNCLASSIFIED
from citybrain.store.models import IncidentRow
from citybrain.store.repository import Store
from citybrain.store.web_models import AssignmentRow
from citybrain.store.web_views import IncidentView, Scope, scoped, to_views

NEEDS_TRIAGE = and_(
    or_(IncidentRow.category == UNCLASSIFIED, IncidentRow.district.is_(None)),
    AssignmentRow.incident_id.is_(None),  # (the assignments are outer-joined by `scoped`)
)


def needing_triage(
    store: Store, scope: Scope, page: int, page_size: int
) -> tuple[list[IncidentView], int]:
    """One page of open incidents that are unclassified or unlocated, and how many in all."""
    with store.sessions() as s:
        total = s.scalar(
            scoped(select(func.count(IncidentRow.id)), scope, True).where(NEEDS_TRIAGE)
        )
        q = (
            scoped(select(IncidentRow, AssignmentRow), scope, True)
            .where(NEEDS_TRIAGE)
            .order_by(IncidentRow.written_at.desc(), IncidentRow.id)
            .offset((max(page, 1) - 1) * page_size)
            .limit(page_size)
        )
        return to_views(s.execute(q).all()), int(total or 0)
