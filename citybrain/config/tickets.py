"""Ticket pipeline: limits, redaction options, and the router trained on the city's history."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TicketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_ticket_bytes: int = Field(64 * 1024, ge=256, title="Larger tickets are dead-lettered")
    redact_house_numbers: bool = Field(
        False, title="Also redact exact house numbers ('No. 88 Xinhua Road' -> street only)"
    )
    router: Path | None = Field(
        None,
        title="Router artefact folder (`citybrain router train`); none: keyword rules only",
    )
    router_auto_threshold: float | None = Field(
        None,
        gt=0,
        le=1,
        title="Probability at which the router dispatches on its own (default: the artefact's, "
        "measured for 95% precision)",
    )
    router_min_confidence: float = Field(
        0.2,
        ge=0,
        le=1,
        title="Below this probability the router's guess is not used: triage decides",
    )
