"""Routing with a router trained on the city's history, in a fixed order of authority:

1. the responsibility list, where it names one department for the category and district
   (decided_by=rule);
2. the router, where its best department reaches the auto-dispatch threshold measured under
   cross-validation (decided_by=router);
3. between the router's minimum confidence and that threshold, triage; with
   `llm.router_help` the model (LLM) instead, allowed only the router's best candidates and
   triage (decided_by=model, or fallback if it fails). Off by default: on real letters the
   small default model chose worse than the router's own best (docs/QUALITY.md "Routing help");
4. triage, below the minimum confidence (decided_by=fallback).

Every decision carries the router's advice, so a dispatcher sees why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from citybrain.core.ambiguity import RoutingCase, routing_case
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.label_paths import choose_level
from citybrain.core.messages import (
    GeoPoint,
    LabelScore,
    RouterAdvice,
    RoutingDecision,
    SimilarTicket,
)
from citybrain.core.routing import route

CANDIDATES = 3


def category_of(
    keyword_category: str, keyword_confidence: float, advice: RouterAdvice | None
) -> tuple[str, float]:
    """A category router above its auto-dispatch threshold outvotes the keyword rules: it has
    read the city's history, they only know the words someone wrote down. With path labels,
    a level above the best one counts when its children's probabilities together reach the
    threshold (summed over the advice's top labels only: an underestimate, never an excess)."""
    if advice is None or advice.kind != "category" or not advice.top:
        return keyword_category, keyword_confidence
    thr = advice.auto_threshold
    if thr is None:
        return keyword_category, keyword_confidence
    pick = choose_level([s.label for s in advice.top], [s.p for s in advice.top], thr)
    if pick.p >= thr:
        return pick.label, pick.p
    return keyword_category, keyword_confidence


def department_scores(
    city: City, advice: RouterAdvice, district: str | None
) -> list[tuple[str, float]]:
    """The advice as departments, best first; a category router's categories go through the
    responsibility list for the district (split or unlisted categories count for triage)."""
    scores: dict[str, float] = defaultdict(float)
    for s in advice.top:
        dept = s.label if advice.kind == "department" else route(city, s.label, district).department
        scores[dept] += s.p
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def advised_case(
    city: City,
    category: str,
    district: str | None,
    advice: RouterAdvice,
    location: GeoPoint | None = None,
    border_m: float = 0.0,
) -> RoutingCase:
    base = routing_case(city, category, district, location, border_m, unclassified=True)
    if category != UNCLASSIFIED and not base.ambiguous and base.rule.decided_by == "rule":
        return RoutingCase(base.rule.model_copy(update={"advice": advice}))
    ranked = department_scores(city, advice, district)
    best, p = ranked[0] if ranked else (city.triage_department, 0.0)
    thr = advice.auto_threshold
    context = f" ({base.why})" if base.why else ""
    if thr is not None and p >= thr:  # triage too: the history says it is no one's
        return RoutingCase(
            RoutingDecision(
                department=best,
                decided_by="router",
                reason=f"router: {best} at {p:.2f} >= auto-dispatch threshold {thr:.2f}{context}",
                advice=advice,
            )
        )
    shown = "none" if thr is None else f"{thr:.2f}"
    if p >= advice.min_confidence:
        triage = _triage(city, f"router unsure: {best} at {p:.2f}", advice)
        return RoutingCase(
            triage,
            candidates_of(city, ranked),
            f"the router is unsure: {best} at {p:.2f}, below the auto-dispatch threshold {shown}",
            by_router=True,
        )
    return RoutingCase(
        _triage(city, f"router: best {best} at {p:.2f}, under {advice.min_confidence:.2f}", advice)
    )


def candidates_of(city: City, ranked: Sequence[tuple[str, float]]) -> tuple[str, ...]:
    """What the model may choose from: the router's best departments, then triage."""
    return tuple(dict.fromkeys([*(d for d, _ in ranked[:CANDIDATES]), city.triage_department]))


def offered_case(city: City, district: str | None, advice: RouterAdvice) -> RoutingCase:
    """The router's candidates offered to the model whatever the router's confidence: how
    `eval routing --model-choice all` measures the model on tickets the router would dispatch
    on its own (or leave to triage) too, with the router's own best shown as the reason."""
    ranked = department_scores(city, advice, district)
    best, p = ranked[0] if ranked else (city.triage_department, 0.0)
    return RoutingCase(
        _triage(city, f"router: {best} at {p:.2f}", advice),
        candidates_of(city, ranked),
        f"the router's best is {best} at {p:.2f}",
        by_router=True,
    )


def _triage(city: City, why: str, advice: RouterAdvice) -> RoutingDecision:
    return RoutingDecision(
        department=city.triage_department,
        decided_by="fallback",
        reason=f"{why}: triage",
        advice=advice,
    )


def combine(advices: Sequence[RouterAdvice], top_k: int = 3, similar_k: int = 3) -> RouterAdvice:
    """An incident's advice from its tickets': mean probability per label (a label outside a
    ticket's top counts 0 there), the most similar past tickets over all of them."""
    if len(advices) == 1:
        return advices[0]
    total: dict[str, float] = defaultdict(float)
    for a in advices:
        for s in a.top:
            total[s.label] += s.p / len(advices)
    top = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    similar: dict[str, SimilarTicket] = {}
    for a in advices:
        for t in a.similar:
            if t.text not in similar or similar[t.text].similarity < t.similarity:
                similar[t.text] = t
    first = advices[0]
    return first.model_copy(
        update={
            "top": tuple(LabelScore(label=k, p=round(min(v, 1.0), 4)) for k, v in top),
            "similar": tuple(sorted(similar.values(), key=lambda t: -t.similarity)[:similar_k]),
        }
    )


def outbound(routing: RoutingDecision) -> RoutingDecision:
    """The decision as it leaves citybrain (dispatch messages, webhooks): the router's labels
    travel, its similar past tickets stay home. They are other citizens' words, mostly routed
    to other departments, and a receiver needs none of them to act on its own incident."""
    if routing.advice is None or not routing.advice.similar:
        return routing
    advice = routing.advice.model_copy(update={"similar": ()})
    return routing.model_copy(update={"advice": advice})


def similar_routed_to(
    city: City, advice: Mapping[str, Any], department: str | None, district: str | None
) -> list[Any]:
    """The stored advice's similar past tickets that the city routed to `department` (None:
    all of them), for a reader who may read that department's tickets only. A category
    router's label is routed through the responsibility list at the incident's district."""
    similar = list(advice.get("similar") or [])
    if department is None:
        return similar
    by_department = advice.get("kind") == "department"

    def dept_of(t: Mapping[str, Any]) -> str:
        label = str(t.get("label", ""))
        if by_department:
            return label
        return route(city, label, district).department if label in city.category_by_id else ""

    return [t for t in similar if isinstance(t, Mapping) and dept_of(t) == department]
