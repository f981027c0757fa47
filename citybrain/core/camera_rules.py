"""Camera event rules: turn one camera's frame-by-frame evidence into events that open, continue
and clear, so one noisy frame neither raises nor ends an incident.

Per (camera, zone, category) a frame *counts* when enough confident objects are in the zone
(optionally: tracked objects that stayed put for `dwell_s`), or when the frame's scene score
for the category (e.g. CLIP "a flooded street") reaches its threshold. An event opens when
`open_k` of the last `window_n` frames counted and clears after `clear_m` quiet frames in a row.
Rules are data (config.rules); this module holds no per-category code. Time is the frames' own,
and frames older than the last one seen for the same camera are ignored (counted as stale);
a camera whose clock was set back is forgotten (`forget`) and starts over.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from citybrain.core.city import City
from citybrain.core.ids import camera_event_id
from citybrain.core.messages import Detection, RuleState
from citybrain.core.params import CameraRuleParams, RuleParams


@dataclass(frozen=True)
class RuleDecision:
    """What a rule decided on one frame; only frames that change or extend an event yield one."""

    camera_id: str
    zone: str
    category: str
    rule_id: str
    state: RuleState
    event_id: str
    opened_at: datetime
    at: datetime
    confidence: float
    detections: tuple[Detection, ...] = ()
    count: int = 0
    track_ids: tuple[int, ...] = ()
    dwell_s: float | None = None
    scene_score: float | None = None


@dataclass
class _Track:
    first_at: datetime
    last_at: datetime
    foot: tuple[float, float]


@dataclass
class _Memory:
    hits: deque[bool]
    open: bool = False
    quiet: int = 0
    opened_at: datetime | None = None
    event_id: str = ""
    last_at: datetime | None = None
    sent_at: datetime | None = None  # when the open event last produced a decision
    tracks: dict[int, _Track] = field(default_factory=dict)


def rule_id(category: str, camera_id: str, zone: str) -> str:
    return f"{category}@{camera_id}/{zone}"


class CameraRules:
    """Rule state for every camera a vision worker sees (frames are keyed by camera, so one
    camera's frames always reach the same worker and its state stays local)."""

    def __init__(self, city: City, settings: CameraRuleParams) -> None:
        self.city = city
        self.settings = settings
        self.stats: Counter[str] = Counter()
        self._memory: dict[tuple[str, str, str], _Memory] = {}
        self._rules: dict[tuple[str, str, str], RuleParams] = {}

    def step(
        self,
        camera_id: str,
        at: datetime,
        evidence: Mapping[str, Sequence[Detection]],
        scene_scores: Mapping[str, float] | None = None,
    ) -> list[RuleDecision]:
        """One frame of one camera: `evidence` is detections by category (with their zone and,
        when tracked, their track id); `scene_scores` are per-category scores in 0..1."""
        camera = self.city.camera_by_id.get(camera_id)
        if camera is None:
            self.stats["unknown_camera"] += 1
            return []
        scores = scene_scores or {}
        for cat in scores:
            if cat not in self.city.category_by_id:
                self.stats["unknown_scene_category"] += 1
        out: list[RuleDecision] = []
        stale = False
        for zone in camera.zones:
            for category in zone.categories:
                key = (camera_id, zone.id, category)
                rule = self._rule(key)
                mem = self._memory.get(key)
                if mem is None:
                    mem = self._memory[key] = _Memory(hits=deque(maxlen=rule.window_n))
                if mem.last_at is not None and at <= mem.last_at:
                    stale = True
                    continue
                mem.last_at = at
                dets = [
                    d
                    for d in evidence.get(category, ())
                    if d.zone == zone.id and d.confidence >= rule.min_confidence
                ]
                decision = self._frame(key, rule, mem, at, dets, scores.get(category))
                if decision is not None:
                    out.append(decision)
        if stale:
            self.stats["stale_frames"] += 1
        return out

    def forget(self, camera_id: str) -> None:
        """The camera's clock went back: its open events and tracks would otherwise ignore
        every frame until its clock passed the old time again (a camera blind for as long)."""
        for key in [k for k in self._memory if k[0] == camera_id]:
            del self._memory[key]

    def _rule(self, key: tuple[str, str, str]) -> RuleParams:
        rule = self._rules.get(key)
        if rule is None:
            camera_id, zone, category = key
            rule = self._rules[key] = self.settings.rule_for(category, camera_id, zone)
        return rule

    def _frame(
        self,
        key: tuple[str, str, str],
        rule: RuleParams,
        mem: _Memory,
        at: datetime,
        dets: list[Detection],
        scene: float | None,
    ) -> RuleDecision | None:
        camera_id, zone, category = key
        dwell: float | None = None
        if rule.dwell_s > 0:
            staying = self._dwelling(rule, mem, at, dets)
            dwell = max(staying.values(), default=None)
            counted = [d for d in dets if d.track_id in staying]
        else:
            counted = dets
        scene_hit = (
            scene is not None and rule.scene_threshold < 1.0 and scene >= rule.scene_threshold
        )
        hit = len(counted) >= rule.min_count or scene_hit
        mem.hits.append(hit)

        if not mem.open:
            if sum(mem.hits) < rule.open_k:
                return None
            mem.open, mem.quiet, mem.opened_at = True, 0, at
            mem.event_id = camera_event_id(camera_id, zone, category, at)
            state: RuleState = "opened"
        elif hit:
            mem.quiet = 0
            every = timedelta(seconds=self.settings.continuing_every_s)
            if mem.sent_at is not None and at - mem.sent_at < every:
                self.stats["continuing_throttled"] += 1
                return None
            state = "continuing"
        else:
            mem.quiet += 1
            if mem.quiet < rule.clear_m:
                return None
            mem.open = False
            mem.hits.clear()
            state = "cleared"
        assert mem.opened_at is not None
        mem.sent_at = at
        confs = [d.confidence for d in counted]
        confidence = max([*confs, scene if scene_hit and scene is not None else 0.0])
        return RuleDecision(
            camera_id=camera_id,
            zone=zone,
            category=category,
            rule_id=rule_id(category, camera_id, zone),
            state=state,
            event_id=mem.event_id,
            opened_at=mem.opened_at,
            at=at,
            confidence=round(confidence, 4) if state != "cleared" else 0.0,
            detections=tuple(counted) if state != "cleared" else (),
            count=len(counted) if state != "cleared" else 0,
            track_ids=tuple(sorted(d.track_id for d in counted if d.track_id is not None))
            if state != "cleared"
            else (),
            dwell_s=dwell if state != "cleared" else None,
            scene_score=scene,
        )

    def _dwelling(
        self, rule: RuleParams, mem: _Memory, at: datetime, dets: list[Detection]
    ) -> dict[int, float]:
        """Track id -> seconds it has stayed put, for tracks in the zone at least dwell_s."""
        for tid in [
            t
            for t, tr in mem.tracks.items()
            if (at - tr.last_at).total_seconds() > self.settings.track_gap_s
        ]:
            del mem.tracks[tid]
        out: dict[int, float] = {}
        for d in dets:
            if d.track_id is None:
                self.stats["untracked_detections"] += 1
                continue
            foot = ((d.box[0] + d.box[2]) / 2, d.box[3])
            tr = mem.tracks.get(d.track_id)
            if tr is None or math.dist(foot, tr.foot) > rule.max_move:
                tr = mem.tracks[d.track_id] = _Track(first_at=at, last_at=at, foot=foot)
            tr.last_at = at
            stayed = (at - tr.first_at).total_seconds()
            if stayed >= rule.dwell_s:
                out[d.track_id] = round(stayed, 3)
        return out
