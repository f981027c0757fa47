"""The events of one simulated run: what happens, where, when, and whether anyone reports it.

Events are spread so downstream fusion has a fair task: two events of one category are never
at the same place, and are at least MIN_SAME_CATEGORY_M apart whenever their spans overlap
(wherever the city allows it, at least that far apart whatever their times).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import Category, City
from citybrain.core.geo import metres_between
from citybrain.sim.places import Place, camera_places, named_places
from citybrain.sim.truth import responsible_department

MIN_SAME_CATEGORY_M = 800.0
START_WITHIN = 0.6  # events start within this fraction of the run
LENGTH_RANGE = (0.2, 0.5)  # and last this fraction of it (clipped to the run)
REPORTED_SHARE = 0.8
_SCENARIO_STREAM = 1  # sub-stream of the seed; tickets and frames draw from others


@dataclass(frozen=True)
class SimEvent:
    """One real-world problem the pipeline should find; the unit of ground truth."""

    id: str
    category: str
    lon: float
    lat: float
    district: str
    department: str
    starts_at: datetime
    ends_at: datetime
    camera_id: str | None
    place_en: str
    place_zh: str
    place_kind: Literal["intersection", "landmark"]
    streets: tuple[str, ...]
    landmark: str | None
    reported: bool

    def active_at(self, t: datetime) -> bool:
        return self.starts_at <= t < self.ends_at

    def overlaps(self, other: SimEvent) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Scenario:
    seed: int
    start: datetime
    end: datetime
    events: tuple[SimEvent, ...]

    def event_by_id(self, event_id: str) -> SimEvent:
        return next(e for e in self.events if e.id == event_id)


def is_visual(category: Category) -> bool:
    """Cameras can show it: the detector has a class for it."""
    return bool(category.detector_classes)


def build_scenario(city: City, settings: SimulatorSettings, start: datetime) -> Scenario:
    """settings.events events, every category drawn before any repeats, placed at named spots."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    rng = np.random.default_rng([settings.seed, _SCENARIO_STREAM])
    span_ms = round(settings.duration_s * 1000)
    end = start + timedelta(milliseconds=span_ms)

    drafts: list[tuple[int, int, int, Category, bool]] = []
    for i, cat in enumerate(_draw_categories(city, settings.events, rng)):
        begin = int(rng.integers(0, max(1, int(span_ms * START_WITHIN))))
        length = round(span_ms * rng.uniform(*LENGTH_RANGE))
        stop = min(span_ms, begin + max(1, length))
        drafts.append((begin, i, stop, cat, bool(rng.random() < REPORTED_SHARE)))
    drafts.sort(key=lambda d: (d[0], d[1]))  # ids follow start time

    cams = camera_places(city)
    anywhere = named_places(city)
    width = max(3, len(str(len(drafts))))
    events: list[SimEvent] = []
    for n, (begin, _, stop, cat, reported) in enumerate(drafts, start=1):
        s_at = start + timedelta(milliseconds=begin)
        e_at = start + timedelta(milliseconds=stop)
        candidates = _candidates(city, cat, cams, anywhere)
        order = rng.permutation(len(candidates))
        chosen = _choose([candidates[int(k)] for k in order], cat.id, s_at, e_at, events)
        if chosen is None:
            raise ValueError(
                f"cannot place another {cat.id!r} event: every named place is taken or within "
                f"{MIN_SAME_CATEGORY_M:.0f} m of an overlapping one; lower simulator.events"
            )
        camera_id, place = chosen
        district = city.district_at(place.lon, place.lat)
        assert district is not None  # named_places / camera_places keep only places in the city
        events.append(
            SimEvent(
                id=f"ev-{n:0{width}d}",
                category=cat.id,
                lon=place.lon,
                lat=place.lat,
                district=district.id,
                department=responsible_department(city, cat.id, district.id),
                starts_at=s_at,
                ends_at=e_at,
                camera_id=camera_id,
                place_en=place.name_en,
                place_zh=place.name_zh,
                place_kind=place.kind,
                streets=place.streets,
                landmark=place.landmark,
                reported=reported,
            )
        )
    return Scenario(seed=settings.seed, start=start, end=end, events=tuple(events))


def _draw_categories(city: City, n: int, rng: np.random.Generator) -> list[Category]:
    """Shuffled rounds over the whole taxonomy, so a short run still shows every kind."""
    out: list[Category] = []
    while len(out) < n:
        out += [city.categories[int(i)] for i in rng.permutation(len(city.categories))]
    return out[:n]


def _candidates(
    city: City, cat: Category, cams: dict[str, Place], anywhere: tuple[Place, ...]
) -> list[tuple[str | None, Place]]:
    """Visual categories go where a camera watching them stands; the rest anywhere named."""
    if is_visual(cat):
        watching = [
            (cam.id, cams[cam.id])
            for cam in city.cameras
            if cam.id in cams and any(cat.id in z.categories for z in cam.zones)
        ]
        if watching:
            return list(watching)
    return [(None, p) for p in anywhere]


def _choose(
    candidates: list[tuple[str | None, Place]],
    category: str,
    starts_at: datetime,
    ends_at: datetime,
    placed: list[SimEvent],
) -> tuple[str | None, Place] | None:
    """First candidate far from every same-category event; failing that, far from the
    overlapping ones only. Never the very place of an earlier same-category event."""
    same = [e for e in placed if e.category == category]

    def ok(place: Place, strict: bool) -> bool:
        for e in same:
            if (e.lon, e.lat) == (place.lon, place.lat):
                return False
            overlapping = starts_at < e.ends_at and e.starts_at < ends_at
            if (strict or overlapping) and metres_between(
                e.lon, e.lat, place.lon, place.lat
            ) < MIN_SAME_CATEGORY_M:
                return False
        return True

    for strict in (True, False):
        for cand in candidates:
            if ok(cand[1], strict):
                return cand
    return None
