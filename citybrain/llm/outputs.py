"""The shapes a model must answer in; anything else is an invalid answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from citybrain.core.prompts import MAX_REASON_CHARS, MAX_SUMMARY_CHARS


class SummaryOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(max_length=MAX_SUMMARY_CHARS)


class RoutingOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    department: str = Field(min_length=1, max_length=64)
    reason: str = Field("", max_length=MAX_REASON_CHARS * 2)
