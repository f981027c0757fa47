"""The schema of the 2026-12-01 release (a239575): the first one migrations know.

A database that create_all made then, with no alembic_version table, is stamped at this
revision when its tables match (citybrain/store/schema.py).

Revision ID: 0001
Revises: (none: the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deliveries_department"), "deliveries", ["department"], unique=False)
    op.create_index(op.f("ix_deliveries_next_at"), "deliveries", ["next_at"], unique=False)
    op.create_index(op.f("ix_deliveries_status"), "deliveries", ["status"], unique=False)
    op.create_table(
        "hotspots",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("cell", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_hotspots_category"), "hotspots", ["category"], unique=False)
    op.create_index(op.f("ix_hotspots_district"), "hotspots", ["district"], unique=False)
    op.create_index(op.f("ix_hotspots_status"), "hotspots", ["status"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("camera_count", sa.Integer(), nullable=False),
        sa.Column("ticket_count", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=16), nullable=False),
        sa.Column("routing_reason", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cell", sa.String(length=32), nullable=True),
        sa.Column("resolved_by", sa.String(length=16), nullable=True),
        sa.Column("camera_events", sa.JSON(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_incidents_category"), "incidents", ["category"], unique=False)
    op.create_index(op.f("ix_incidents_cell"), "incidents", ["cell"], unique=False)
    op.create_index(op.f("ix_incidents_department"), "incidents", ["department"], unique=False)
    op.create_index(op.f("ix_incidents_district"), "incidents", ["district"], unique=False)
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"], unique=False)
    op.create_index(op.f("ix_incidents_written_at"), "incidents", ["written_at"], unique=False)
    op.create_table(
        "model_calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_model_calls_at"), "model_calls", ["at"], unique=False)
    op.create_index(
        op.f("ix_model_calls_incident_id"), "model_calls", ["incident_id"], unique=False
    )
    op.create_index(op.f("ix_model_calls_outcome"), "model_calls", ["outcome"], unique=False)
    op.create_table(
        "open311_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_open311_requests_requested_at"), "open311_requests", ["requested_at"], unique=False
    )
    op.create_index(
        op.f("ix_open311_requests_service_code"), "open311_requests", ["service_code"], unique=False
    )
    op.create_table(
        "pipeline_stats",
        sa.Column("job", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("job"),
    )
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index(
        op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"], unique=False
    )
    op.create_table(
        "summaries",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("generated_by", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("prompt_version", sa.String(length=32), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verified_by", sa.String(length=128), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_from", sa.String(length=64), nullable=False),
        sa.Column("department_to", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("emitted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_actions_action"), "actions", ["action"], unique=False)
    op.create_index(op.f("ix_actions_at"), "actions", ["at"], unique=False)
    op.create_index(op.f("ix_actions_emitted"), "actions", ["emitted"], unique=False)
    op.create_index(op.f("ix_actions_incident_id"), "actions", ["incident_id"], unique=False)
    op.create_table(
        "assignments",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_index(op.f("ix_assignments_department"), "assignments", ["department"], unique=False)
    op.create_index(op.f("ix_assignments_state"), "assignments", ["state"], unique=False)
    op.create_table(
        "dispatches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_dispatches_department"), "dispatches", ["department"], unique=False)
    op.create_index(op.f("ix_dispatches_incident_id"), "dispatches", ["incident_id"], unique=False)
    op.create_table(
        "evidence",
        sa.Column("observation_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("precision", sa.String(length=16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("frame_ref", sa.String(length=256), nullable=True),
        sa.Column("detections", sa.JSON(), nullable=True),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("observation_id"),
    )
    op.create_index(op.f("ix_evidence_incident_id"), "evidence", ["incident_id"], unique=False)
    op.create_index(op.f("ix_evidence_source_id"), "evidence", ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_source_id"), table_name="evidence")
    op.drop_index(op.f("ix_evidence_incident_id"), table_name="evidence")
    op.drop_table("evidence")
    op.drop_index(op.f("ix_dispatches_incident_id"), table_name="dispatches")
    op.drop_index(op.f("ix_dispatches_department"), table_name="dispatches")
    op.drop_table("dispatches")
    op.drop_index(op.f("ix_assignments_state"), table_name="assignments")
    op.drop_index(op.f("ix_assignments_department"), table_name="assignments")
    op.drop_table("assignments")
    op.drop_index(op.f("ix_actions_incident_id"), table_name="actions")
    op.drop_index(op.f("ix_actions_emitted"), table_name="actions")
    op.drop_index(op.f("ix_actions_at"), table_name="actions")
    op.drop_index(op.f("ix_actions_action"), table_name="actions")
    op.drop_table("actions")
    op.drop_table("summaries")
    op.drop_index(op.f("ix_revoked_sessions_expires_at"), table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
    op.drop_table("pipeline_stats")
    op.drop_index(op.f("ix_open311_requests_service_code"), table_name="open311_requests")
    op.drop_index(op.f("ix_open311_requests_requested_at"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_index(op.f("ix_model_calls_outcome"), table_name="model_calls")
    op.drop_index(op.f("ix_model_calls_incident_id"), table_name="model_calls")
    op.drop_index(op.f("ix_model_calls_at"), table_name="model_calls")
    op.drop_table("model_calls")
    op.drop_index(op.f("ix_incidents_written_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_district"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_department"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_cell"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_category"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_hotspots_status"), table_name="hotspots")
    op.drop_index(op.f("ix_hotspots_district"), table_name="hotspots")
    op.drop_index(op.f("ix_hotspots_category"), table_name="hotspots")
    op.drop_table("hotspots")
    op.drop_index(op.f("ix_deliveries_status"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_next_at"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_department"), table_name="deliveries")
    op.drop_table("deliveries")
