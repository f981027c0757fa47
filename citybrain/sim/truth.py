"""Who should receive an event, computed by the simulator on its own.

The routing code under test answers the same question; the simulator keeps a separate,
deliberately plain implementation so the ground truth does not inherit that code's bugs.
"""

from __future__ import annotations

from citybrain.core.city import WILDCARD, City


def responsible_department(city: City, category: str, district: str | None) -> str:
    """Most specific responsibility line wins: (category, district), then (category, '*'),
    then ('*', district), then ('*', '*'); with no line at all, the triage department."""
    wanted = [
        (category, district),
        (category, WILDCARD),
        (WILDCARD, district),
        (WILDCARD, WILDCARD),
    ]
    for cat, dist in wanted:
        if dist is None:
            continue
        for line in city.responsibilities:
            if line.category == cat and line.district == dist:
                return line.department
    return city.triage_department
