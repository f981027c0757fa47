"""Turn what a citizen wrote about a place into a point, a district, or 'unlocated'.

Citizens name intersections ("Xinhua Road and Zhongshan Road", "新华路与中山路交叉口"),
landmarks ("near Central Park"), or only a district. The gazetteer in the city config holds
the names and common misspellings; close misspellings of '<Name> Road' are matched too.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property

from shapely.geometry import Point

from citybrain.core.city import City, Street
from citybrain.core.messages import GeoPoint, Precision

_EN_STREET = re.compile(r"\b([A-Z][a-z']+)\s+(Road|Rd|Avenue|Ave|Street|St)\b\.?")


@dataclass(frozen=True)
class Located:
    precision: Precision
    point: GeoPoint | None
    district: str | None
    how: str


class Geocoder:
    def __init__(self, city: City) -> None:
        self.city = city

    @cached_property
    def _street_names(self) -> list[tuple[str, Street]]:
        names = []
        for s in self.city.streets:
            names += [(n.lower(), s) for n in (s.name, *s.aliases)]
            names.append((s.name_zh, s))
        return sorted(names, key=lambda x: -len(x[0]))

    @cached_property
    def _district_names(self) -> list[tuple[str, str]]:
        out = []
        for d in self.city.districts:
            out += [(d.name.lower(), d.id), (d.name_zh, d.id), (d.name_zh.rstrip("区"), d.id)]
        return sorted(out, key=lambda x: -len(x[0]))

    def locate(self, text: str, point: GeoPoint | None = None) -> Located:
        if point is not None:
            district = self.city.district_at(point.lon, point.lat)
            if district is None:
                return Located("unlocated", None, None, "point outside the city")
            return Located("point", point, district.id, "reporter's point")
        lowered = text.lower()
        for lm in self.city.landmarks:
            if any(n.lower() in lowered for n in (lm.name, *lm.aliases)) or lm.name_zh in text:
                return self._at(lm.lon, lm.lat, f"landmark {lm.name}")
        streets = self._streets_in(text)
        for i, a in enumerate(streets):
            for b in streets[i + 1 :]:
                crossing = a.shape.intersection(b.shape)
                if isinstance(crossing, Point):
                    return self._at(crossing.x, crossing.y, f"intersection {a.name} / {b.name}")
        for name, did in self._district_names:
            if name in lowered or name in text:
                return Located("district", None, did, f"district named ({name})")
        if streets:
            return Located("street", None, None, f"street {streets[0].name} only")
        return Located("unlocated", None, None, "no place found")

    def _at(self, lon: float, lat: float, how: str) -> Located:
        district = self.city.district_at(lon, lat)
        return Located("point", GeoPoint(lon=lon, lat=lat), district.id if district else None, how)

    def _streets_in(self, text: str) -> list[Street]:
        """Streets in order of first mention; exact names first, then close misspellings."""
        lowered = text.lower()
        found: dict[str, tuple[int, Street]] = {}
        for name, street in self._street_names:
            pos = lowered.find(name) if name.isascii() else text.find(name)
            if pos >= 0 and street.name not in found:
                found[street.name] = (pos, street)
        bases = {s.name.rsplit(" ", 1)[0]: s for s in self.city.streets}
        for m in _EN_STREET.finditer(text):
            close = difflib.get_close_matches(m.group(1), list(bases), n=1, cutoff=0.8)
            if close and bases[close[0]].name not in found:
                found[bases[close[0]].name] = (m.start(), bases[close[0]])
        return [s for _, s in sorted(found.values(), key=lambda x: x[0])]
