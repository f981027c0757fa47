"""The published contracts: one JSON Schema per topic's message type (docs/schemas/)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from citybrain.core.incident import Incident
from citybrain.core.messages import (
    CameraHealthAlert,
    DeadLetter,
    Dispatch,
    Feedback,
    FrameMeta,
    Observation,
    Ticket,
)

SCHEMA_TYPES: dict[str, type[Any]] = {
    "frame_headers": FrameMeta,
    "ticket": Ticket,
    "observation": Observation,
    "incident": Incident,
    "dispatch": Dispatch,
    "feedback": Feedback,
    "dead_letter_headers": DeadLetter,
    "camera_health_alert": CameraHealthAlert,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one contract, as `citybrain schemas` writes it."""
    return TypeAdapter(SCHEMA_TYPES[name]).json_schema()
