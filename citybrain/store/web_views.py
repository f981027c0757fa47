"""How an incident looks to people, and the SQL that scopes a list of them.

An incident's *effective* department is the one a dispatcher last handed it to, else the one
routing chose; its hand state (new | accepted | resolved) follows the dispatcher's actions
(citybrain.core.dispatcher_actions), here also as one SQL expression so lists filter and sort
by it in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func

from citybrain.core.dispatcher_actions import current_state
from citybrain.store.models import IncidentRow
from citybrain.store.web_models import AssignmentRow

_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])
# The similar past tickets of a stored router advice that one reader may see.
SimilarFilter = Callable[[dict[str, Any]], list[Any]]
effective_department = func.coalesce(AssignmentRow.department, IncidentRow.department)
# core.dispatcher_actions.current_state in SQL: a dispatcher's "resolved" stands until evidence
# reopens the incident after the dispatcher's hand, which puts it back in the inbox as new.
_reopened_since_hand = and_(
    IncidentRow.status == "reopened", IncidentRow.written_at > AssignmentRow.updated_at
)
hand_state = case(
    (AssignmentRow.state.is_(None), "new"),
    (and_(AssignmentRow.state == "resolved", _reopened_since_hand), "new"),
    else_=AssignmentRow.state,
)


def effective_state(inc: IncidentRow, asg: AssignmentRow | None) -> str:
    """`hand_state` for rows already loaded: new | accepted | resolved."""
    if asg is None:
        return current_state(None, None, inc.status, inc.written_at)
    return current_state(asg.state, asg.updated_at, inc.status, inc.written_at)


@dataclass(frozen=True)
class Scope:
    """Who is looking (a dispatcher's department) and the dashboard's filters."""

    department: str | None = None
    category: str | None = None
    district: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class IncidentView:
    """An incident as people see it: the pipeline's row plus the dispatcher's hand on it."""

    row: IncidentRow
    department: str
    state: str
    written_at: datetime

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def closed(self) -> bool:
        return self.row.status == "resolved" or self.state == "resolved"

    def as_json(self, similar: SimilarFilter | None = None) -> dict[str, Any]:
        """`similar`: the router's similar past tickets (citizens' redacted words) this reader
        may see, from the stored advice; None: none of them."""
        r = self.row
        return {
            "id": r.id,
            "category": r.category,
            "status": "resolved" if self.closed else r.status,
            "state": self.state,
            "severity": r.severity,
            "district": r.district,
            "lon": r.lon,
            "lat": r.lat,
            "opened_at": r.opened_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
            "department": self.department,
            "routing": {
                "department": r.department,
                "decided_by": r.decided_by,
                "reason": r.routing_reason,
                "advice": _advice_for(r.routing_advice, similar),
            },
            "camera_count": r.camera_count,
            "ticket_count": r.ticket_count,
            "summary": r.summary,
        }


def to_views(rows: Iterable[Any]) -> list[IncidentView]:
    return [
        IncidentView(
            row=inc,
            department=asg.department if asg else inc.department,
            state=effective_state(inc, asg),
            written_at=inc.written_at,
        )
        for inc, asg in rows
    ]


def _open(q: _Q) -> _Q:
    return q.where(
        IncidentRow.status != "resolved",
        hand_state != "resolved",
    )


def scoped(q: _Q, scope: Scope, open_only: bool, join: bool = True) -> _Q:
    """Filters for the scope; `join=False` skips the assignments join when nothing needs it."""
    if join or open_only or scope.department:
        q = q.outerjoin(AssignmentRow, AssignmentRow.incident_id == IncidentRow.id)
    if open_only:
        q = _open(q)
    if scope.department:
        q = q.where(effective_department == scope.department)
    if scope.category:
        q = q.where(IncidentRow.category == scope.category)
    if scope.district:
        q = q.where(
            IncidentRow.district.is_(None)
            if scope.district == "unlocated"
            else IncidentRow.district == scope.district
        )
    if scope.since:
        q = q.where(IncidentRow.updated_at >= scope.since)
    return q


def _advice_for(
    advice: dict[str, Any] | None, similar: SimilarFilter | None
) -> dict[str, Any] | None:
    if advice is None:
        return None
    return {**advice, "similar": similar(advice) if similar is not None else []}
