"""Hot spots: tickets about one matter in one area arriving much faster than usual."""

from pydantic import BaseModel, ConfigDict, Field


class HotspotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: int = Field(
        7, ge=0, le=15, title="H3 resolution of a hot-spot area (7: hexagons ~1.2 km across)"
    )
    bucket_s: float = Field(900.0, gt=0, title="Counting bucket length, seconds of event time")
    window_buckets: int = Field(4, ge=1, title="Buckets in the recent window that is judged")
    baseline_buckets: int = Field(
        96, ge=1, title="Buckets before the window that make the rolling baseline"
    )
    min_count: int = Field(5, ge=1, title="Tickets in the window before an area can be hot")
    growth_ratio: float = Field(
        3.0, gt=1, title="Window count must be this many times the baseline's expectation"
    )
    min_expected: float = Field(
        0.5, gt=0, title="Floor of the expectation, so a silent area needs a real burst"
    )
    digest_top: int = Field(5, ge=1, title="Recurring issues listed per district in the digest")
    digest_every_s: float = Field(3600.0, gt=0, title="Event-time interval between two digests")
