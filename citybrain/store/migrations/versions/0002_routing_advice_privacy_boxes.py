"""2026-12-02: router advice with ticket evidence and incidents, people and vehicles to hide
in shown frames (JSON columns that databases of that release had to get by hand).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("privacy_boxes", sa.JSON(), nullable=True))
    op.add_column("evidence", sa.Column("advice", sa.JSON(), nullable=True))
    op.add_column("incidents", sa.Column("routing_advice", sa.JSON(), nullable=True))


def downgrade() -> None:
    # batch: SQLite before 3.35 cannot drop a column in place; batch copies the table there
    with op.batch_alter_table("incidents") as incidents:
        incidents.drop_column("routing_advice")
    with op.batch_alter_table("evidence") as evidence:
        evidence.drop_column("advice")
        evidence.drop_column("privacy_boxes")
