"""Durable state: incidents, their evidence, dispatches and pipeline statistics (SQLAlchemy)."""

from citybrain.store.repository import IncidentWrite, Store

__all__ = ["IncidentWrite", "Store"]
