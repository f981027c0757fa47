"""Camera event rules: when a run of frames becomes an event, as data per category.

A rule is resolved from the most general to the most specific layer: `default`, then
`categories[<category>]`, then the `overrides` that name the camera (and, most specific,
the camera and zone). Each layer sets only the fields it names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RulePatch(BaseModel):
    """Fields of a rule a layer changes; unset fields keep the value of the layer below."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float | None = Field(
        None, ge=0, le=1, title="A detection counts when at least this confident"
    )
    min_count: int | None = Field(
        None, ge=1, title="Objects needed in the zone in one frame for the frame to count"
    )
    dwell_s: float | None = Field(
        None,
        ge=0,
        title="Seconds a tracked object must stay put in the zone (0: presence is enough)",
    )
    max_move: float | None = Field(
        None,
        gt=0,
        le=1,
        title="A tracked footprint that moves further (image widths) restarts its dwell",
    )
    scene_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        title="Scene score (e.g. CLIP) at or above which the frame counts; 1.0 disables it",
    )
    window_n: int | None = Field(None, ge=1, title="Frames remembered for persistence")
    open_k: int | None = Field(
        None, ge=1, title="Frames out of the last window_n that must count to open an event"
    )
    clear_m: int | None = Field(
        None, ge=1, title="Consecutive frames that must not count to clear an open event"
    )


class Rule(BaseModel):
    """A fully resolved rule (every field set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(0.25, ge=0, le=1, title="Minimum detection confidence")
    min_count: int = Field(1, ge=1, title="Objects needed in the zone in one frame")
    dwell_s: float = Field(0.0, ge=0, title="Seconds a tracked object must stay put (0: off)")
    max_move: float = Field(0.05, gt=0, le=1, title="Footprint movement that restarts dwell")
    scene_threshold: float = Field(1.0, ge=0, le=1, title="Scene score that counts (1.0: off)")
    window_n: int = Field(5, ge=1, title="Frames remembered for persistence")
    open_k: int = Field(3, ge=1, title="Counting frames in the window that open an event")
    clear_m: int = Field(3, ge=1, title="Consecutive quiet frames that clear an event")

    @model_validator(mode="after")
    def _k_fits(self) -> Rule:
        if self.open_k > self.window_n:
            raise ValueError(f"open_k ({self.open_k}) cannot exceed window_n ({self.window_n})")
        return self

    def patched(self, patch: RulePatch | None) -> Rule:
        if patch is None:
            return self
        changes: dict[str, Any] = {
            k: v for k, v in patch.model_dump(exclude_none=True).items() if k in Rule.model_fields
        }
        return Rule(**{**self.model_dump(), **changes}) if changes else self


class RuleOverride(RulePatch):
    """A patch for one camera, or one zone of one camera, optionally only for one category."""

    camera: str = Field(title="Camera id")
    zone: str | None = Field(None, title="Zone id within the camera (none: every zone)")
    category: str | None = Field(None, title="Category id (none: every category)")


class CameraRuleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: Rule = Field(default_factory=Rule, title="Rule every category starts from")
    categories: dict[str, RulePatch] = Field(
        default_factory=dict, title="Per taxonomy category: what differs from the default"
    )
    overrides: list[RuleOverride] = Field(
        default_factory=list, title="Per camera or camera zone: what differs from the category"
    )
    continuing_every_s: float = Field(
        60.0,
        ge=0,
        title="At most one 'continuing' observation per camera event per this many seconds of "
        "event time (a camera at several frames per second would otherwise send one per hit "
        "frame, and every one becomes stored evidence); 0: one per hit frame",
    )
    track_gap_s: float = Field(
        180.0,
        gt=0,
        title="A track unseen for longer than this is forgotten (its dwell starts over)",
    )
    clock_reset_s: float = Field(
        60.0,
        gt=0,
        title="A frame this much older than the newest its camera sent means the camera's "
        "clock was set back: its events, tracks and rate limit start over from that frame "
        "(counted as camera_clock_resets); a smaller step back is a stale frame, skipped",
    )

    def rule_for(self, category: str, camera: str, zone: str | None) -> Rule:
        rule = self.default.patched(self.categories.get(category))
        for exact in (False, True):  # camera-wide overrides first, then this zone's
            for o in self.overrides:
                if o.camera != camera or (o.category not in (None, category)):
                    continue
                if (o.zone is not None) == exact and (o.zone is None or o.zone == zone):
                    rule = rule.patched(o)
        return rule
