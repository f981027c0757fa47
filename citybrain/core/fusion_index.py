"""Where fusion looks for an observation's incident, so a match scans a neighbourhood rather
than every incident.

A grid of fusion-radius squares per category (the 3x3 squares around a point hold everything
within the radius; an incident is also filed under every square its cameras' views touch),
(category, district) for district-only matching, and the camera events open behind each
incident, which a `cleared` observation looks up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from citybrain.core.city import City
from citybrain.core.geo import M_PER_DEG_LAT
from citybrain.core.incident import Incident
from citybrain.core.messages import Observation
from citybrain.core.views import CameraViews

Square = tuple[str, int, int]  # category, grid column, grid row


class CandidateIndex:
    def __init__(self, city: City, radius_m: float, views: CameraViews) -> None:
        lat_max = max((abs(y) for d in city.districts for _, y in d.polygon), default=0.0)
        self._dlat = radius_m / M_PER_DEG_LAT
        self._dlon = self._dlat / max(math.cos(math.radians(min(lat_max, 80.0))), 1e-6)
        self._views = views
        self.clear()

    def clear(self) -> None:
        self._grid: dict[Square, set[str]] = {}
        self._by_district: dict[tuple[str, str | None], set[str]] = {}
        self._unplaced: dict[tuple[str, str | None], set[str]] = {}  # incidents with no point
        self._by_rule: dict[str, set[str]] = {}

    def add(self, inc: Incident) -> None:
        for key in self._squares_of(inc):
            self._grid.setdefault(key, set()).add(inc.id)
        self._by_district.setdefault((inc.category, inc.district), set()).add(inc.id)
        if inc.location is None:
            self._unplaced.setdefault((inc.category, inc.district), set()).add(inc.id)
        for rule in inc.camera_events:
            self._by_rule.setdefault(rule, set()).add(inc.id)

    def remove(self, inc: Incident) -> None:
        """Take out `inc` as it was added (the same state, so the same keys)."""
        for key in self._squares_of(inc):
            self._grid.get(key, set()).discard(inc.id)
        self._by_district.get((inc.category, inc.district), set()).discard(inc.id)
        self._unplaced.get((inc.category, inc.district), set()).discard(inc.id)
        for rule in inc.camera_events:
            self._by_rule.get(rule, set()).discard(inc.id)

    def with_rule(self, rule_id: str) -> set[str]:
        return self._by_rule.get(rule_id, set())

    def near(self, obs: Observation, categories: Iterable[str]) -> set[str]:
        """Incidents of `categories` that can be within the radius of `obs` (or share its
        district, when one side is only known to the district)."""
        out: set[str] = set()
        for cat in categories:
            if obs.location is None:
                out |= self._by_district.get((cat, obs.district), set())
                continue
            out |= self._unplaced.get((cat, obs.district), set())
            squares = {self._square(cat, obs.location.lon, obs.location.lat)}
            if obs.source == "camera":
                squares |= self._view_squares(cat, obs.source_id)
            for _, gx, gy in squares:
                for dx in (-1, 0, 1):
                    for dy in (-1, 0, 1):
                        out |= self._grid.get((cat, gx + dx, gy + dy), set())
        return out

    def _squares_of(self, inc: Incident) -> set[Square]:
        """Grid squares of its point and of every square its cameras' views touch."""
        keys = set()
        if inc.location is not None:
            keys.add(self._square(inc.category, inc.location.lon, inc.location.lat))
        for cam in inc.cameras:
            keys |= self._view_squares(inc.category, cam)
        return keys

    def _square(self, category: str, lon: float, lat: float) -> Square:
        return (category, math.floor(lon / self._dlon), math.floor(lat / self._dlat))

    def _view_squares(self, category: str, camera_id: str) -> set[Square]:
        b = self._views.bounds(camera_id)
        if b is None:
            return set()
        (_, x0, y0), (_, x1, y1) = (
            self._square(category, b[0], b[1]),
            self._square(category, b[2], b[3]),
        )
        return {(category, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
