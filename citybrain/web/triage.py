"""The triage view: open incidents the pipeline could not classify or place, each with the
router's best three guesses and the words of its tickets that name a place, and one form to
set both. Setting them routes the incident by the responsibility list (core/routing) to the
department that handles that category there: a reassignment like any other, so the router
learns from it (store/feedback.py) and the Feedback record carries the choice in its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.place_words import PlaceWord, place_words
from citybrain.store.web_queries import IncidentView


@dataclass
class TriageRow:
    view: IncidentView
    texts: list[list[tuple[str, PlaceWord | None]]] = field(default_factory=list)
    places: list[PlaceWord] = field(default_factory=list)
    category: str = ""  # the form's preselected choices
    district: str = ""


def segments(text: str, words: list[PlaceWord]) -> list[tuple[str, PlaceWord | None]]:
    """The text cut at its place words, so the page can mark them without parsing HTML."""
    out: list[tuple[str, PlaceWord | None]] = []
    rest = text
    for w in words:
        head, sep, tail = rest.partition(w.word)
        if not sep:
            continue
        if head:
            out.append((head, None))
        out.append((w.word, w))
        rest = tail
    if rest:
        out.append((rest, None))
    return out


def triage_row(city: City, v: IncidentView, texts: list[str]) -> TriageRow:
    r = v.row
    row = TriageRow(v)
    for t in texts:
        words = place_words(city, t)
        row.texts.append(segments(t, words))
        row.places += [w for w in words if w not in row.places]
    advice: dict[str, Any] = r.routing_advice or {}
    top = (
        [s.get("label") for s in advice.get("top", [])] if advice.get("kind") == "category" else []
    )
    row.category = next(
        (
            c
            for c in ([r.category] if r.category != UNCLASSIFIED else []) + top
            if c in city.category_by_id
        ),
        "",
    )
    row.district = r.district or next((d for w in row.places for d in w.districts), "")
    return row
