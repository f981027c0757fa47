"""The synthetic city: how much it produces and how fast."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SimulatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(7, title="Everything the simulator makes follows from this seed")
    duration_s: float = Field(1800.0, gt=0, title="Simulated time span covered")
    frame_interval_s: float = Field(60.0, gt=0, title="Simulated seconds between frames per camera")
    events: int = Field(12, ge=0, title="Real-world events that happen in the span")
    unrelated_tickets: int = Field(6, ge=0, title="Tickets about matters outside the event list")
    paraphrase_share: float = Field(
        0.0,
        ge=0,
        le=1,
        title=(
            "Share of an event's tickets (all but the one that names its place) that describe "
            "the problem without any category keyword, as residents often do"
        ),
    )
    width: int = Field(640, ge=32, title="Frame width in pixels")
    height: int = Field(360, ge=32, title="Frame height in pixels")
    rate: float = Field(
        0.0, ge=0, title="Records per second produced to Kafka; 0 produces as fast as possible"
    )
    broken_records: int = Field(
        4, ge=0, title="Deliberately broken frames and tickets mixed in, to exercise the DLQ"
    )
    ground_truth: Path = Field(Path("var/ground_truth.json"), title="Where the truth is written")
