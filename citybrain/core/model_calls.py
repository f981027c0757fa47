"""One model call as the audit log keeps it: a plain record the model step writes and the
store maps to its row, so the model step needs nothing of the SQL package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OUTCOMES = ("ok", "invalid", "timeout", "error", "rejected_by_guard")


@dataclass
class ModelCall:
    """One model call: its redacted prompt, the response, and how it went (`OUTCOMES`)."""

    id: str
    at: datetime
    purpose: str  # summary | routing
    incident_id: str | None
    model: str
    prompt_version: str
    prompt: list[dict[str, str]]
    response: str
    latency_ms: float
    outcome: str
    detail: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
