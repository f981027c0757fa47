"""Rows to and from the pipeline's types: the only place a table's columns meet a message.

Each incident column set has one writer, named here and used by the code that writes it:
the incident job creates the row and owns the fused state; the dispatch job owns the routing
and the summary (its step decides them; its summary worker rewrites the text). `written_at`
is the live views' change cursor, moved by every write.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from citybrain.core.hot_live import LiveHotIssue
from citybrain.core.hotspots import HotspotAlert
from citybrain.core.incident import Incident
from citybrain.core.messages import (
    Dispatch,
    GeoPoint,
    Observation,
    RouterAdvice,
    RoutingDecision,
)
from citybrain.store.models import DispatchRow, EvidenceRow, HotIssueRow, HotspotRow, IncidentRow

STATE_COLUMNS = (
    "category",
    "status",
    "severity",
    "district",
    "lon",
    "lat",
    "opened_at",
    "updated_at",
    "resolved_at",
    "camera_count",
    "ticket_count",
    "cell",
    "resolved_by",
    "camera_events",
    "reopened",
)
ROUTING_COLUMNS = ("department", "decided_by", "routing_reason", "routing_advice")
SUMMARY_COLUMNS = ("summary",)
INCIDENT_WRITERS: dict[str, tuple[str, ...]] = {
    "incidents": STATE_COLUMNS,  # and every column once, when it creates the row
    "dispatch": ROUTING_COLUMNS + SUMMARY_COLUMNS,
}


def incident_row(inc: Incident) -> IncidentRow:
    """A new row: the incident job writes it whole, with the routing and summary it carries
    (the rules' answer and the template) until the dispatch job decides its own."""
    if inc.routing is None:
        raise ValueError(f"incident {inc.id} has no routing: route it before storing")
    return IncidentRow(
        id=inc.id,
        **state_values(inc),
        **routing_values(inc.routing),
        summary=inc.summary,
    )


def state_values(inc: Incident) -> dict[str, Any]:
    """The incident job's columns: the fused state."""
    return {
        "category": inc.category,
        "status": inc.status,
        "severity": inc.severity,
        "district": inc.district,
        "lon": inc.location.lon if inc.location else None,
        "lat": inc.location.lat if inc.location else None,
        "opened_at": inc.opened_at,
        "updated_at": inc.updated_at,
        "resolved_at": inc.resolved_at,
        "camera_count": inc.camera_count,
        "ticket_count": inc.ticket_count,
        "cell": inc.cell or None,
        "resolved_by": inc.resolved_by,
        "camera_events": list(inc.camera_events),
        "reopened": inc.reopened,
    }


def routing_values(routing: RoutingDecision) -> dict[str, Any]:
    """The dispatch job's routing columns."""
    return {
        "department": routing.department,
        "decided_by": routing.decided_by,
        "routing_reason": routing.reason,
        "routing_advice": routing.advice.model_dump(mode="json") if routing.advice else None,
    }


def routing_from_row(r: IncidentRow) -> RoutingDecision:
    advice = RouterAdvice.model_validate(r.routing_advice) if r.routing_advice else None
    return RoutingDecision(
        department=r.department, decided_by=r.decided_by, reason=r.routing_reason, advice=advice
    )


def incident_from_row(
    r: IncidentRow, evidence_ids: tuple[str, ...] = (), cameras: tuple[str, ...] = ()
) -> Incident:
    """The incident a row holds; its evidence ids and cameras live in the evidence table."""
    return Incident(
        id=r.id,
        category=r.category,
        district=r.district,
        location=point_of(r),
        opened_at=r.opened_at,
        updated_at=r.updated_at,
        status=r.status,  # type: ignore[arg-type]  # written from IncidentStatus only
        resolved_at=r.resolved_at,
        evidence_ids=evidence_ids,
        camera_count=r.camera_count,
        ticket_count=r.ticket_count,
        severity=r.severity,
        cell=r.cell or "",
        resolved_by=r.resolved_by,
        camera_events=tuple(r.camera_events or ()),
        cameras=cameras,
        reopened=r.reopened or 0,
        routing=routing_from_row(r),
        summary=r.summary,
    )


def point_of(r: IncidentRow | EvidenceRow) -> GeoPoint | None:
    return GeoPoint(lon=r.lon, lat=r.lat) if r.lon is not None and r.lat is not None else None


def evidence_row(o: Observation, incident_id: str) -> EvidenceRow:
    return EvidenceRow(
        observation_id=o.id,
        incident_id=incident_id,
        source=o.source,
        source_id=o.source_id,
        category=o.category,
        observed_at=o.observed_at,
        precision=o.precision,
        lon=o.location.lon if o.location else None,
        lat=o.location.lat if o.location else None,
        confidence=o.confidence,
        text=o.text,
        frame_ref=o.frame_ref,
        detections=[d.model_dump(mode="json") for d in o.detections] or None,
        privacy_boxes=[d.model_dump(mode="json") for d in o.privacy_boxes] or None,
        embedding=list(o.embedding) or None,
        rule=_rule(o),
        advice=o.advice.model_dump(mode="json") if o.advice else None,
    )


_RULE_FIELDS = {
    "rule_id",
    "rule_state",
    "event_id",
    "event_opened_at",
    "zone",
    "count",
    "track_ids",
    "dwell_s",
    "scene_score",
}


def _rule(o: Observation) -> dict[str, Any] | None:
    """What a camera rule decided, kept with the evidence (None for tickets)."""
    if o.rule_id is None:
        return None
    return o.model_dump(mode="json", include=_RULE_FIELDS)


def dispatch_row(d: Dispatch) -> DispatchRow:
    return DispatchRow(
        id=d.id,
        incident_id=d.incident_id,
        department=d.department,
        category=d.category,
        district=d.district,
        severity=d.severity,
        created_at=d.created_at,
        decided_by=d.routing.decided_by,
        reason=d.routing.reason,
        summary=d.summary,
    )


def dispatch_from_row(d: DispatchRow) -> Dispatch:
    return Dispatch(
        id=d.id,
        incident_id=d.incident_id,
        department=d.department,
        category=d.category,
        district=d.district,
        severity=d.severity,
        created_at=d.created_at,
        routing=RoutingDecision(department=d.department, decided_by=d.decided_by, reason=d.reason),
        summary=d.summary,
    )


def hotspot_row(a: HotspotAlert) -> HotspotRow:
    return HotspotRow(**asdict(a))  # the table mirrors the alert field for field


def hotspot_from_row(r: HotspotRow) -> HotspotAlert:
    return HotspotAlert(**{f.name: getattr(r, f.name) for f in fields(HotspotAlert)})


def hot_issue_row(i: LiveHotIssue) -> HotIssueRow:
    d = asdict(i)
    return HotIssueRow(**{**d, "members": list(i.members), "texts": list(i.texts)})


def hot_issue_from_row(r: HotIssueRow) -> LiveHotIssue:
    d = {f.name: getattr(r, f.name) for f in fields(LiveHotIssue)}
    return LiveHotIssue(**{**d, "members": tuple(r.members), "texts": tuple(r.texts)})
