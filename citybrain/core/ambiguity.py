"""When the responsibility list alone cannot route an incident, and which departments may.

The list decides wherever category and place make it unambiguous. Three cases are not: a ticket
with no clear category, a category several departments share when the place is unknown, and a
place so close to a district border that the neighbouring district's department may be the
responsible one. Only then may a model propose a department, and only from `candidates`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shapely.geometry import Point

from citybrain.core.city import UNCLASSIFIED, WILDCARD, City
from citybrain.core.geo import M_PER_DEG_LAT
from citybrain.core.messages import GeoPoint, RoutingDecision
from citybrain.core.routing import route


@dataclass(frozen=True)
class RoutingCase:
    rule: RoutingDecision
    candidates: tuple[str, ...] = ()  # empty: the rule decision is final
    why: str = ""
    by_router: bool = False  # the candidates are an unsure router's best (llm.router_help)

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)


def routing_case(
    city: City,
    category: str,
    district: str | None,
    location: GeoPoint | None = None,
    border_m: float = 0.0,
    unclassified: bool = True,
) -> RoutingCase:
    """`unclassified=False` leaves text with no clear category to triage (the rules' answer)."""
    rule = route(city, category, district)
    if category == UNCLASSIFIED and not unclassified:
        return RoutingCase(rule)
    if category == UNCLASSIFIED:
        every = tuple(sorted(d.id for d in city.departments))
        return RoutingCase(rule, every, "the ticket text has no clear category")
    sharing = sorted(
        {r.department for r in city.responsibilities if r.category in (category, WILDCARD)}
    )
    if district is None and len(sharing) > 1:
        return RoutingCase(
            rule,
            tuple(dict.fromkeys((*sharing, city.triage_department))),  # triage once
            f"{category} is shared by {len(sharing)} departments and the district is unknown",
        )
    if district is not None and location is not None and border_m > 0:
        near = _neighbours(city, district, location, border_m)
        others = {route(city, category, d).department for d in near} - {rule.department}
        if others and rule.decided_by == "rule":
            names = ", ".join(sorted(near))
            return RoutingCase(
                rule,
                (rule.department, *sorted(others)),
                f"the place is within {border_m:.0f} m of the border with {names}",
            )
    return RoutingCase(rule)


def _neighbours(city: City, district: str, at: GeoPoint, border_m: float) -> list[str]:
    """Other districts whose boundary lies within border_m of the point."""
    scale = M_PER_DEG_LAT * math.cos(math.radians(at.lat))  # metres per degree of longitude
    pt = Point(at.lon, at.lat)
    return [
        d.id
        for d in city.districts
        if d.id != district and d.shape.distance(pt) * min(scale, M_PER_DEG_LAT) <= border_m
    ]
