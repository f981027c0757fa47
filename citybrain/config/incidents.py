"""Fusion of observations into incidents."""

from typing import Literal

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
    compatible: dict[str, list[str]] = Field(
        default_factory=dict,
        title="Category -> other categories whose evidence may join its incidents (symmetric)",
    )
    reopen_s: float = Field(
        3600.0,
        ge=0,
        title="Evidence this soon after an incident resolved reopens it instead of a new one",
    )
    severity_evidence_steps: list[int] = Field(
        default_factory=lambda: [5, 20],
        title="Evidence counts at which severity rises one more level",
    )
    paraphrase_similarity: float | None = Field(
        None,
        gt=0,
        le=1,
        title=(
            "A ticket with no category joins an open incident in its place and window when its "
            "text is this alike one of the incident's reports (paraphrase_matcher's score: "
            "0.45 for the encoder, 0.2 for n-grams, from real letters). Null (default): such "
            "tickets never "
            "join, since on short templated reports a wrong join hides a problem "
            "(docs/QUALITY.md, 'Paraphrased reports')"
        ),
    )
    paraphrase_matcher: Literal["encoder", "ngram"] = Field(
        "encoder",
        title=(
            "How the paraphrase join reads words: 'encoder' (a multilingual sentence encoder "
            "on each report's matter clause, text/paraphrase_encoder.py; crosses Chinese and "
            "English) or 'ngram' (TF-IDF of character n-grams, text/paraphrase.py). Read only "
            "where paraphrase_similarity is set"
        ),
    )
    partition_resolution: int = Field(
        4,
        ge=0,
        le=15,
        title="H3 resolution of the cell that keys observations (4: ~26 km edge, far above the radius)",
    )
    max_future_s: float = Field(
        300.0, ge=0, title="Observations this far ahead of the worker's clock are rejected"
    )
    max_lateness_s: float = Field(
        3600.0,
        gt=0,
        title="Observations this far behind the newest one seen are rejected as late",
    )
