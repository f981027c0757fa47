"""Fusion of observations into incidents."""

from pydantic import BaseModel, ConfigDict, Field


class IncidentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fusion_radius_m: float = Field(
        350.0, gt=0, title="Evidence this close (metres) to an open incident joins it"
    )
    window_s: float = Field(
        6 * 3600.0,
        gt=0,
        title="Evidence this much newer than an incident's last update opens a new one",
    )
    idle_resolve_s: float = Field(
        12 * 3600.0, gt=0, title="An incident with no evidence for this long is resolved by timeout"
    )
    max_clock_skew_s: float = Field(
        24 * 3600.0,
        gt=0,
        title="Observations further than this from the worker's clock are rejected",
    )
