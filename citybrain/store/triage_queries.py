"""The triage view's read: open incidents with no category or no place, newest first."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from citybrain.core.city import UNCLASSIFIED
from citybrain.store.models import IncidentRow
from citybrain.store.repository import Store
from citybrain.store.web_models import AssignmentRow
from citybrain.store.web_views import IncidentView, Scope, scoped, to_views

NEEDS_TRIAGE = or_(IncidentRow.category == UNCLASSIFIED, IncidentRow.district.is_(None))


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
