"""What the dashboard, the inbox and the APIs read and write, aggregated in SQL.

Every list is paginated and every panel is a GROUP BY, so a flood of incidents costs the page
a few indexed queries rather than thousands of rows. How an incident looks and how lists are
scoped is web_views; what a dispatcher's action may do is core.dispatcher_actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from citybrain.core.dispatcher_actions import ActionError, Hand, next_hand
from citybrain.core.ids import reassignment_dispatch_id
from citybrain.store.mappers import dispatch_from_row
from citybrain.store.model_step import Delivery, add_delivery
from citybrain.store.models import DispatchRow, EvidenceRow, IncidentRow
from citybrain.store.outbox import Outbox
from citybrain.store.repository import Store
from citybrain.store.web_models import (
    ActionRow,
    AssignmentRow,
    Open311RequestRow,
    RevokedSessionRow,
)
from citybrain.store.web_views import (
    IncidentView,
    Scope,
    effective_department,
    effective_state,
    hand_state,
    scoped,
    to_views,
)
from citybrain.streams.records import Output

# Callers take the action's result, its error, and the view types from here.
__all__ = ["ActionError", "ActionResult", "IncidentView", "Scope", "WebStore"]


@dataclass(frozen=True)
class ActionResult:
    action: ActionRow
    dispatch: DispatchRow | None


class WebStore:
    """Reads and writes for the web server over the shared Store's engine."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions = store.sessions

    # --- incidents ---
    def view(self, incident_id: str) -> IncidentView | None:
        with self.sessions() as s:
            q = scoped(select(IncidentRow, AssignmentRow), Scope(), open_only=False)
            found = to_views(s.execute(q.where(IncidentRow.id == incident_id)).all())
            return found[0] if found else None

    def departments_of(self, incident_ids: list[str]) -> dict[str, str]:
        """Incident id -> the department holding it now, for many incidents in one query."""
        if not incident_ids:
            return {}
        with self.sessions() as s:
            q = scoped(
                select(IncidentRow.id, effective_department), Scope(), open_only=False
            ).where(IncidentRow.id.in_(set(incident_ids)))
            return {str(i): str(d) for i, d in s.execute(q).all()}

    def page(
        self, scope: Scope, page: int = 1, page_size: int = 50, open_only: bool = True
    ) -> tuple[list[IncidentView], int]:
        """One page, newest change first, and the total that matches."""
        with self.sessions() as s:
            base = scoped(select(IncidentRow, AssignmentRow), scope, open_only)
            total = s.scalar(scoped(select(func.count(IncidentRow.id)), scope, open_only))
            q = base.order_by(IncidentRow.written_at.desc(), IncidentRow.id)
            rows = s.execute(q.offset((max(page, 1) - 1) * page_size).limit(page_size)).all()
            return to_views(rows), int(total or 0)

    def changed_since(
        self, scope: Scope, cursor: datetime | None, limit: int
    ) -> tuple[list[IncidentView], int]:
        """Incidents written after `cursor` (open or not, so the map can drop closed ones),
        newest first, and how many there were in all."""
        with self.sessions() as s:
            sel = select(IncidentRow, AssignmentRow)
            cnt = select(func.count(IncidentRow.id))
            if cursor is not None:
                sel = sel.where(IncidentRow.written_at > cursor)
                cnt = cnt.where(IncidentRow.written_at > cursor)
            open_only = cursor is None  # a first load needs only what is open
            total = int(s.scalar(scoped(cnt, scope, open_only)) or 0)
            q = scoped(sel, scope, open_only).order_by(IncidentRow.written_at.desc()).limit(limit)
            return to_views(s.execute(q).all()), total

    def touch(self, s: Session, incident_id: str) -> None:
        """Move an incident's change cursor so live views pick up a dispatcher's action."""
        row = s.get(IncidentRow, incident_id)
        if row is not None:
            row.written_at = datetime.now(UTC)

    # --- aggregates ---
    def open_summary(
        self, scope: Scope, sla_minutes: dict[str, int], near_fraction: float, now: datetime
    ) -> list[tuple[str, str, str, int, int, int]]:
        """Open incidents in one scan, grouped by (category, district, department), with how
        many are near and past their category's deadline; every count panel sums from this."""
        past_at = case(
            {c: now - timedelta(minutes=m) for c, m in sla_minutes.items()} or {"": now},
            value=IncidentRow.category,
        )
        near_at = case(
            {c: now - timedelta(minutes=m * (1 - near_fraction)) for c, m in sla_minutes.items()}
            or {"": now},
            value=IncidentRow.category,
        )
        past = func.sum(case((IncidentRow.opened_at < past_at, 1), else_=0))
        near = func.sum(
            case(
                (and_(IncidentRow.opened_at < near_at, IncidentRow.opened_at >= past_at), 1),
                else_=0,
            )
        )
        cols = (IncidentRow.category, IncidentRow.district, effective_department)
        with self.sessions() as s:
            q = scoped(select(*cols, func.count(IncidentRow.id), near, past), scope, True)
            return [
                (c, d or "unlocated", dep, int(n), int(nr or 0), int(p or 0))
                for c, d, dep, n, nr, p in s.execute(q.group_by(*cols)).all()
            ]

    def quality(self, scope: Scope) -> dict[str, dict[str, dict[str, float]]]:
        """Re-dispatch rate: incidents a dispatcher reassigned or rejected, over incidents
        routed, per category and per routing method (rule, model, fallback)."""
        moved = select(ActionRow.incident_id).where(ActionRow.action.in_(("reassign", "reject")))
        redispatched = func.sum(case((IncidentRow.id.in_(moved), 1), else_=0))
        out: dict[str, dict[str, dict[str, float]]] = {}
        with self.sessions() as s:
            for name, col in (
                ("by_category", IncidentRow.category),
                ("by_method", IncidentRow.decided_by),
            ):
                q = scoped(
                    select(col, func.count(IncidentRow.id), redispatched), scope, False, join=False
                ).group_by(col)
                out[name] = {
                    str(k): {
                        "routed": int(n),
                        "redispatched": int(r or 0),
                        "rate": round(int(r or 0) / n, 4) if n else 0.0,
                    }
                    for k, n, r in s.execute(q).all()
                }
        return out

    # --- inbox and actions ---
    def inbox(
        self, department: str, page: int = 1, page_size: int = 50
    ) -> tuple[list[IncidentView], int]:
        """Open incidents the department holds, those not yet accepted first."""
        scope = Scope(department=department)
        with self.sessions() as s:
            total = int(s.scalar(scoped(select(func.count(IncidentRow.id)), scope, True)) or 0)
            first_new = case((hand_state == "new", 0), else_=1)
            q = (
                scoped(select(IncidentRow, AssignmentRow), scope, True)
                .order_by(first_new, IncidentRow.written_at.desc(), IncidentRow.id)
                .offset((max(page, 1) - 1) * page_size)
                .limit(page_size)
            )
            return to_views(s.execute(q).all()), total

    def act(
        self,
        incident_id: str,
        action: str,
        actor: str,
        *,
        triage_department: str,
        department: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
        webhooks: Mapping[str, str] | None = None,
        as_department: str | None = None,
    ) -> ActionResult:
        """Store one decision and its effect in one transaction (validated by the caller's
        form; this checks only what depends on the incident's current state). A move to a
        department with a webhook queues its delivery in the same transaction.

        `as_department`: the acting dispatcher's department, checked again here under a row
        lock (PostgreSQL; SQLite serialises writers), so an incident moved away between the
        caller's access check and this write cannot be acted on by its former holder."""
        now = now or datetime.now(UTC)
        with self.sessions.begin() as s:
            inc = s.get(IncidentRow, incident_id, with_for_update=True)
            if inc is None:
                raise ActionError(f"no incident {incident_id}")
            asg = s.get(AssignmentRow, incident_id, with_for_update=True)
            held_by = asg.department if asg else inc.department
            hand = next_hand(
                Hand(held_by, effective_state(inc, asg)),
                action,
                status=inc.status,
                triage_department=triage_department,
                department=department,
                acting_for=as_department,
            )
            to, new_state = hand.department, hand.state
            row = ActionRow(
                id=f"act-{uuid.uuid4().hex[:16]}",
                incident_id=incident_id,
                action=action,
                actor=actor,
                at=now,
                department_from=held_by,
                department_to=to,
                reason=reason,
                emitted=False,
            )
            s.add(row)
            if asg is None:
                s.add(
                    AssignmentRow(
                        incident_id=incident_id,
                        department=to,
                        state=new_state,
                        updated_at=now,
                        updated_by=actor,
                    )
                )
            else:
                asg.department, asg.state, asg.updated_at, asg.updated_by = (
                    to,
                    new_state,
                    now,
                    actor,
                )
            dispatch = None
            if to != held_by:
                dispatch = DispatchRow(
                    id=reassignment_dispatch_id(incident_id, to, row.id),
                    incident_id=incident_id,
                    department=to,
                    category=inc.category,
                    district=inc.district,
                    severity=inc.severity,
                    created_at=now,
                    decided_by="dispatcher",
                    reason=f"{action} by {actor} from {held_by}: {reason or ''}".strip(),
                    summary=inc.summary,
                )
                s.add(dispatch)
                url = (webhooks or {}).get(to)
                if url:
                    payload = dispatch_from_row(dispatch).model_dump_json()
                    add_delivery(s, Delivery(dispatch.id, to, url, payload), now)
            self.touch(s, incident_id)
        return ActionResult(row, dispatch)

    def actions(
        self, incident_id: str | None = None, limit: int = 500, department: str | None = None
    ) -> list[ActionRow]:
        """The newest `limit` (with `department`: that moved from or to it), oldest first."""
        with self.sessions() as s:
            q = select(ActionRow)
            if incident_id is not None:
                q = q.where(ActionRow.incident_id == incident_id)
            if department is not None:
                q = q.where(
                    or_(
                        ActionRow.department_from == department,
                        ActionRow.department_to == department,
                    )
                )
            newest = s.scalars(q.order_by(ActionRow.at.desc(), ActionRow.id.desc()).limit(limit))
            return list(reversed(newest.all()))

    def unemitted(self, limit: int = 500) -> list[ActionRow]:
        with self.sessions() as s:
            q = select(ActionRow).where(ActionRow.emitted.is_(False)).order_by(ActionRow.at)
            return list(s.scalars(q.limit(limit)).all())

    def mark_emitted(self, ids: list[str]) -> None:
        if not ids:
            return
        with self.sessions.begin() as s:
            for row in s.scalars(select(ActionRow).where(ActionRow.id.in_(ids))).all():
                row.emitted = True

    def dispatch_page(
        self, department: str | None, page: int = 1, page_size: int = 100
    ) -> list[DispatchRow]:
        """Dispatches, newest first, one page (optionally one department's)."""
        with self.sessions() as s:
            q = select(DispatchRow).order_by(DispatchRow.created_at.desc(), DispatchRow.id)
            if department:
                q = q.where(DispatchRow.department == department)
            q = q.offset((max(page, 1) - 1) * page_size).limit(page_size)
            return list(s.scalars(q).all())

    def dispatches_of(self, incident_id: str) -> list[DispatchRow]:
        with self.sessions() as s:
            q = select(DispatchRow).where(DispatchRow.incident_id == incident_id)
            return list(s.scalars(q.order_by(DispatchRow.created_at)).all())

    def evidence_of(self, incident_id: str) -> list[EvidenceRow]:
        found = self.store.incident(incident_id)
        return found[1] if found else []

    # --- sessions ---
    def revoke_session(self, session_id: str, expires_at: datetime) -> None:
        """Sign a session out everywhere; rows past their expiry are cleared on the way."""
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            s.execute(delete(RevokedSessionRow).where(RevokedSessionRow.expires_at < now))
            if s.get(RevokedSessionRow, session_id) is None:
                s.add(
                    RevokedSessionRow(session_id=session_id, revoked_at=now, expires_at=expires_at)
                )

    def session_revoked(self, session_id: str) -> bool:
        with self.sessions() as s:
            return s.get(RevokedSessionRow, session_id) is not None

    # --- Open311 ---
    def add_open311(
        self, row: Open311RequestRow, outbox: Outbox | None = None, message: Output | None = None
    ) -> None:
        """The request and, into `outbox` in the same transaction, its ticket message."""
        with self.sessions.begin() as s:
            s.add(row)
            if outbox is not None and message is not None:
                outbox.write(s, [message])

    def open311(
        self,
        ids: list[str] | None = None,
        service_code: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
    ) -> list[tuple[Open311RequestRow, IncidentView | None]]:
        """Requests with the incident their ticket joined, if the pipeline has placed it."""
        with self.sessions() as s:
            q = select(Open311RequestRow).order_by(Open311RequestRow.requested_at.desc())
            if ids is not None:
                q = q.where(Open311RequestRow.id.in_(ids))
            if service_code:
                q = q.where(Open311RequestRow.service_code == service_code)
            if start:
                q = q.where(Open311RequestRow.requested_at >= start)
            if end:
                q = q.where(Open311RequestRow.requested_at <= end)
            reqs = list(s.scalars(q.limit(limit)).all())
            links = dict(
                s.execute(
                    select(EvidenceRow.source_id, EvidenceRow.incident_id).where(
                        EvidenceRow.source == "ticket",
                        EvidenceRow.source_id.in_([r.id for r in reqs]),
                    )
                ).all()
            )
            iq = scoped(select(IncidentRow, AssignmentRow), Scope(), open_only=False)
            views = {
                v.id: v
                for v in to_views(
                    s.execute(iq.where(IncidentRow.id.in_(set(links.values())))).all()
                )
            }
        return [(r, views.get(links.get(r.id, ""))) for r in reqs]
