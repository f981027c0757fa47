"""Deterministic template summaries: what a dispatcher reads when no model has written one.

Built only from the incident's own fields, so it can never invent a place or a count.
"""

from __future__ import annotations

from citybrain.core.city import City
from citybrain.core.fusion import IncidentState


def template_summary(city: City, inc: IncidentState, place: str | None = None) -> str:
    cat = city.category_by_id.get(inc.category)
    what = cat.name if cat else inc.category.replace("_", " ").capitalize()
    district = city.district_by_id.get(inc.district or "")
    where = place or (
        f"{inc.location.lat:.5f}, {inc.location.lon:.5f}" if inc.location else "unknown location"
    )
    if district:
        where += f" ({district.name})"
    parts = []
    if inc.ticket_count:
        parts.append(f"{inc.ticket_count} citizen report{'s' if inc.ticket_count > 1 else ''}")
    if inc.camera_count:
        parts.append(f"{inc.camera_count} camera observation{'s' if inc.camera_count > 1 else ''}")
    span = f"first seen {inc.opened_at:%Y-%m-%d %H:%M} UTC, last {inc.updated_at:%H:%M}"
    return f"{what} at {where}: {', '.join(parts) or 'no evidence'}; {span}. [template]"
