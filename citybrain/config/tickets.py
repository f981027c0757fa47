"""Ticket pipeline: limits and redaction options."""

from pydantic import BaseModel, ConfigDict, Field


class TicketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_ticket_bytes: int = Field(64 * 1024, ge=256, title="Larger tickets are dead-lettered")
    redact_house_numbers: bool = Field(
        False, title="Also redact exact house numbers ('No. 88 Xinhua Road' -> street only)"
    )
