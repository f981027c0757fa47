"""Durable state: incidents, their evidence, dispatches and pipeline statistics (SQLAlchemy)."""

from citybrain.store import (
    summary_queue,  # noqa: F401  (registers the summary work table)
    web_models,  # noqa: F401  (registers the web's tables)
)
from citybrain.store.repository import TRANSIENT_ERRORS, IncidentWrite, Store

__all__ = ["TRANSIENT_ERRORS", "IncidentWrite", "Store"]
