"""Durable state: incidents, their evidence, dispatches and pipeline statistics (SQLAlchemy)."""

from citybrain.store import web_models  # noqa: F401  (registers the web's tables)
from citybrain.store.repository import TRANSIENT_ERRORS, IncidentWrite, Store

__all__ = ["TRANSIENT_ERRORS", "IncidentWrite", "Store"]
