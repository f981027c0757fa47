"""Alembic's entry: runs the revisions on the connection citybrain/store/schema.py opened,
inside the transaction that holds the migration lock."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from citybrain.store.schema import metadata, render_item

connection: Connection = context.config.attributes["connection"]
options: dict[str, Any] = {"compare_type": True, "render_item": render_item}
context.configure(connection=connection, target_metadata=metadata(), **options)
with context.begin_transaction():
    context.run_migrations()
