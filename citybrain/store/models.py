"""Tables. Every primary key is a deterministic id, so every write is an idempotent upsert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, on every backend: SQLite drops tzinfo on storage."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: citybrain stores UTC-aware times only")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(64), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    camera_count: Mapped[int] = mapped_column(Integer, default=0)
    ticket_count: Mapped[int] = mapped_column(Integer, default=0)
    department: Mapped[str] = mapped_column(String(64), index=True)
    decided_by: Mapped[str] = mapped_column(String(16))
    routing_reason: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    # Wall-clock time of the last write: the live dashboard's change cursor (event times can
    # arrive late, so updated_at cannot serve).
    written_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_now, onupdate=_now, index=True
    )

    cell: Mapped[str | None] = mapped_column(String(32), index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(16))
    camera_events: Mapped[list[str] | None] = mapped_column(JSON)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # the router's top labels and similar past tickets behind the routing (RouterAdvice)
    routing_advice: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class EvidenceRow(Base):
    __tablename__ = "evidence"

    observation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    precision: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    frame_ref: Mapped[str | None] = mapped_column(String(256))
    detections: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # people and vehicles in the frame, so a shown snapshot can hide them (web/privacy.py)
    privacy_boxes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # camera rule decision, if any
    # CLIP image embedding of the frame (camera evidence with scene scores on), for similarity
    embedding: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    advice: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # tickets


class DispatchRow(Base):
    __tablename__ = "dispatches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)


class PipelineStatsRow(Base):
    __tablename__ = "pipeline_stats"

    job: Mapped[str] = mapped_column(String(128), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    counters: Mapped[dict[str, Any]] = mapped_column(JSON)


class HotspotRow(Base):
    """A hot-spot alert: tickets about one category in one area arriving unusually fast."""

    __tablename__ = "hotspots"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    district: Mapped[str | None] = mapped_column(String(64), index=True)
    cell: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class HotIssueRow(Base):
    """A live hot issue: tickets whose text describes one specific problem (core/hot_live.py).
    `members` holds every member ticket id; `texts` the redacted texts of the first ones."""

    __tablename__ = "hot_issues"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)
    recent: Mapped[int] = mapped_column(Integer)
    hotness: Mapped[float] = mapped_column(Float, index=True)
    members: Mapped[list[str]] = mapped_column(JSON)
    texts: Mapped[list[str]] = mapped_column(JSON)


class ModelCallRow(Base):
    """The audit log: every model call, with its redacted prompt, response and outcome."""

    __tablename__ = "model_calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # summary | routing
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    prompt: Mapped[str] = mapped_column(Text)  # redacted messages, JSON
    response: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # ok | invalid | timeout | error | rejected_by_guard
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)


class SummaryRow(Base):
    """The summary a dispatcher reads, with its label; verified only once a person confirms."""

    __tablename__ = "summaries"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    generated_by: Mapped[str] = mapped_column(String(16))  # model | template
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(32))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_by: Mapped[str | None] = mapped_column(String(128))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryRow(Base):
    """Outbox of webhook deliveries: written with the dispatch, sent by a per-department sender."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # = dispatch id, idempotency key
    department: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
