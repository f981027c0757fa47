"""Deterministic template summaries: what a dispatcher reads when no model has written one.

Built only from the incident's own fields, so it can never invent a place or a count.
"""

from __future__ import annotations

import hashlib

from citybrain.core.city import City
from citybrain.core.incident import Incident

# How a template summary ends, in each dispatcher language (facts.py writes the Chinese one).
TEMPLATE_MARKS = ("[template]", "[模板]")


def split_template_mark(text: str) -> tuple[str, bool]:
    """The text without its template mark, and whether it had one."""
    body = text.rstrip()
    for mark in TEMPLATE_MARKS:
        if body.endswith(mark):
            return body.removesuffix(mark).rstrip(), True
    return text, False


def summary_digest(text: str) -> str:
    """sha256 of a stored summary's text: a page sends back the digest of the text it showed,
    so accepting confirms that text and not one written after the page was drawn."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_summary(city: City, inc: Incident, place: str | None = None) -> str:
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
    return f"{what} at {where}: {', '.join(parts) or 'no evidence'}; {span}. {TEMPLATE_MARKS[0]}"
