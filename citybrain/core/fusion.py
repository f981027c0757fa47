"""Fuse observations from cameras and tickets into incidents, one per real-world problem.

Pure and deterministic: time is the observations' own (event time, via a watermark), never
the wall clock, so replaying a stream gives the same incidents. Re-applying an observation
already in an incident is a no-op, which is what makes at-least-once delivery safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from citybrain.config.incidents import IncidentSettings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.geo import distance_m
from citybrain.core.ids import stable_id
from citybrain.core.messages import GeoPoint, Observation

_SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class IncidentState:
    id: str
    category: str
    district: str | None
    location: GeoPoint | None
    opened_at: datetime
    updated_at: datetime
    status: str = "open"
    resolved_at: datetime | None = None
    evidence_ids: tuple[str, ...] = ()
    camera_count: int = 0
    ticket_count: int = 0
    severity: str = "medium"

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class FusionResult:
    incident: IncidentState | None
    created: bool = False
    changed: bool = False


@dataclass
class Fuser:
    city: City
    settings: IncidentSettings
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    watermark: datetime | None = None

    def __post_init__(self) -> None:
        self._seen: dict[str, str] = {}
        self.load(list(self.incidents.values()))

    def load(self, states: list[IncidentState]) -> None:
        """Replace the in-memory state with what the store holds (start-up, rebalance)."""
        self.incidents = {s.id: s for s in states}
        self._seen = {e: s.id for s in states for e in s.evidence_ids}

    def apply(self, obs: Observation) -> FusionResult:
        if obs.id in self._seen:
            return FusionResult(self.incidents.get(self._seen[obs.id]))
        if self.watermark is None or obs.observed_at > self.watermark:
            self.watermark = obs.observed_at
        target = self._match(obs)
        if target is None:
            inc = self._open(obs)
            created = True
        else:
            inc = self._attach(target, obs)
            created = False
        self.incidents[inc.id] = inc
        self._seen[obs.id] = inc.id
        return FusionResult(inc, created=created, changed=True)

    def expire(self) -> list[IncidentState]:
        """Resolve incidents with no evidence for idle_resolve_s before the watermark."""
        if self.watermark is None:
            return []
        cutoff = self.watermark - timedelta(seconds=self.settings.idle_resolve_s)
        done = []
        for inc in list(self.incidents.values()):
            if inc.is_open and inc.updated_at < cutoff:
                resolved = replace(inc, status="resolved", resolved_at=self.watermark)
                self.incidents[inc.id] = resolved
                done.append(resolved)
        return done

    def _match(self, obs: Observation) -> IncidentState | None:
        if obs.category == UNCLASSIFIED:
            return None  # an unclassified ticket is triaged on its own, never merged by guess
        window = timedelta(seconds=self.settings.window_s)
        best: tuple[float, IncidentState] | None = None
        for inc in self.incidents.values():
            if not inc.is_open or inc.category != obs.category:
                continue
            if not inc.opened_at - window <= obs.observed_at <= inc.updated_at + window:
                continue
            score = self._closeness(inc, obs)
            if score is not None and (best is None or score < best[0]):
                best = (score, inc)
        return best[1] if best else None

    def _closeness(self, inc: IncidentState, obs: Observation) -> float | None:
        """Metres-like score (lower is closer) or None when the two cannot be the same place."""
        if obs.location is not None and inc.location is not None:
            d = distance_m(obs.location, inc.location)
            return d if d <= self.settings.fusion_radius_m else None
        if obs.district is None or inc.district != obs.district:
            return None
        # One side is only known to the district: same district is the best we can say.
        return self.settings.fusion_radius_m + 1

    def _open(self, obs: Observation) -> IncidentState:
        inc = IncidentState(
            id=stable_id("inc", obs.category, obs.id),
            category=obs.category,
            district=obs.district,
            location=obs.location,
            opened_at=obs.observed_at,
            updated_at=obs.observed_at,
            evidence_ids=(obs.id,),
            camera_count=int(obs.source == "camera"),
            ticket_count=int(obs.source == "ticket"),
        )
        return replace(inc, severity=self._severity(inc))

    def _attach(self, inc: IncidentState, obs: Observation) -> IncidentState:
        inc = replace(
            inc,
            status="updated",
            location=inc.location or obs.location,
            district=inc.district or obs.district,
            opened_at=min(inc.opened_at, obs.observed_at),
            updated_at=max(inc.updated_at, obs.observed_at),
            evidence_ids=(*inc.evidence_ids, obs.id),
            camera_count=inc.camera_count + int(obs.source == "camera"),
            ticket_count=inc.ticket_count + int(obs.source == "ticket"),
        )
        return replace(inc, severity=self._severity(inc))

    def _severity(self, inc: IncidentState) -> str:
        """Category default, one level up with corroboration (both sources, or many reports)."""
        cat = self.city.category_by_id.get(inc.category)
        level = _SEVERITIES.index(cat.severity) if cat else 1
        if (inc.camera_count and inc.ticket_count) or len(inc.evidence_ids) >= 5:
            level += 1
        return _SEVERITIES[min(level, len(_SEVERITIES) - 1)]
