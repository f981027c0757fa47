"""Route an incident to the one department the responsibility list names.

The most specific line wins: (category, district) over (category, *) over (*, district).
A path category (`城乡建设/物业管理`) is looked up at its own level first, then at each level
above it, so a list can name one department for a whole first-level domain.
When the list cannot decide (no line, or the location is unknown for a category split by
district) the incident goes to the triage department, and the reason says why.
"""

from __future__ import annotations

from citybrain.core.city import WILDCARD, City
from citybrain.core.label_paths import SEP, ancestors
from citybrain.core.messages import RoutingDecision


def route(city: City, category: str, district: str | None) -> RoutingDecision:
    chain = ancestors(category) if SEP in category else (category,)
    lines = [r for r in city.responsibilities if r.category in (*chain, WILDCARD)]
    if district is not None:
        keys = [(c, d) for c in chain for d in (district, WILDCARD)] + [(WILDCARD, district)]
        for cat, dist in keys:
            for r in lines:
                if r.category == cat and r.district == dist:
                    return RoutingDecision(
                        department=r.department,
                        decided_by="rule",
                        reason=f"responsibility list: {cat} in {dist} -> {r.department}",
                    )
        return _triage(city, f"no responsibility line for {category} in {district}")
    for cat in chain:
        candidates = {r.department for r in lines if r.category == cat}
        if len(candidates) == 1:
            dept = candidates.pop()
            return RoutingDecision(
                department=dept,
                decided_by="rule",
                reason=f"responsibility list: {cat} anywhere -> {dept}",
            )
        if candidates:
            return _triage(city, f"{cat} is split by district and the location is unknown")
    return _triage(city, f"no responsibility line for {category}")


def _triage(city: City, reason: str) -> RoutingDecision:
    return RoutingDecision(
        department=city.triage_department, decided_by="fallback", reason=f"{reason}: triage"
    )
