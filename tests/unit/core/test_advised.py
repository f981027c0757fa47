"""Routing with a trained router: list, then router, then the model, then triage."""

from __future__ import annotations

from citybrain.core.advised import (
    advised_case,
    category_of,
    combine,
    department_scores,
    offered_case,
    outbound,
    similar_routed_to,
)
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.messages import LabelScore, RouterAdvice, SimilarTicket


def _advice(*top: tuple[str, float], kind: str = "department", thr: float = 0.8) -> RouterAdvice:
    return RouterAdvice(
        router="r1",
        kind=kind,  # type: ignore[arg-type]
        top=tuple(LabelScore(label=lab, p=p) for lab, p in top),
        similar=(SimilarTicket(text="路灯不亮", label="street_lighting", similarity=0.9),),
        auto_threshold=thr,
        min_confidence=0.2,
    )


def test_an_explicit_line_wins_over_the_router(city: City) -> None:
    adv = _advice(("city_roads", 0.99))
    case = advised_case(city, "flooding", "xicheng", adv)
    assert not case.ambiguous and case.rule.decided_by == "rule"
    assert case.rule.department == "water_drainage" and case.rule.advice == adv


def test_a_confident_router_dispatches_on_its_own(city: City) -> None:
    case = advised_case(city, UNCLASSIFIED, None, _advice(("street_lighting", 0.91)))
    assert not case.ambiguous and case.rule.decided_by == "router"
    assert case.rule.department == "street_lighting" and "0.91 >= " in case.rule.reason


def test_an_unsure_router_leaves_its_candidates_to_the_model(city: City) -> None:
    adv = _advice(("street_lighting", 0.5), ("city_roads", 0.3), ("environment", 0.1))
    case = advised_case(city, UNCLASSIFIED, None, adv)
    assert case.ambiguous and case.candidates == (
        "street_lighting",
        "city_roads",
        "environment",
        city.triage_department,
    )
    assert case.rule.department == city.triage_department and case.rule.advice == adv
    assert case.by_router  # llm.router_help decides whether the model is asked


def test_the_list_s_own_ambiguity_is_not_the_router_s(city: City) -> None:
    from citybrain.core.ambiguity import routing_case

    assert not routing_case(city, UNCLASSIFIED, None).by_router


def test_a_measurement_offers_the_router_s_candidates_whatever_its_confidence(
    city: City,
) -> None:
    sure = _advice(("street_lighting", 0.95), ("city_roads", 0.03), ("environment", 0.01))
    case = offered_case(city, None, sure)
    assert case.candidates == ("street_lighting", "city_roads", "environment", "hotline_triage")
    assert case.rule.decided_by == "fallback" and "street_lighting at 0.95" in case.why
    # the same candidates the pipeline offers when the router is unsure
    unsure = _advice(("street_lighting", 0.5), ("city_roads", 0.3), ("environment", 0.1))
    assert (
        offered_case(city, None, unsure).candidates
        == advised_case(city, UNCLASSIFIED, None, unsure).candidates
    )


def test_below_the_minimum_confidence_is_triage(city: City) -> None:
    case = advised_case(city, UNCLASSIFIED, None, _advice(("street_lighting", 0.1)))
    assert not case.ambiguous and case.rule.decided_by == "fallback"
    assert case.rule.department == city.triage_department and "under 0.20" in case.rule.reason


def test_a_shared_category_without_district_asks_the_router(city: City) -> None:
    case = advised_case(city, "illegal_parking", None, _advice(("traffic_police_south", 0.95)))
    assert case.rule.decided_by == "router" and "district is unknown" in case.rule.reason


def test_category_routers_go_through_the_list_per_district(city: City) -> None:
    adv = _advice(("overflowing_bin", 0.6), ("pothole", 0.3), kind="category")
    assert department_scores(city, adv, "xicheng")[0] == ("sanitation_west", 0.6)
    assert department_scores(city, adv, "dongcheng")[0] == ("sanitation_east", 0.6)


def test_an_incident_combines_its_tickets() -> None:
    a = _advice(("street_lighting", 0.9), ("city_roads", 0.1))
    b = _advice(("city_roads", 0.6), ("street_lighting", 0.4))
    both = combine([a, b])
    assert [(s.label, s.p) for s in both.top] == [("street_lighting", 0.65), ("city_roads", 0.35)]
    assert len(both.similar) == 1 and combine([a]) is a


def test_a_confident_category_router_outvotes_the_keywords() -> None:
    adv = _advice(("pothole", 0.9), ("flooding", 0.05), kind="category")
    assert category_of(UNCLASSIFIED, 0.0, adv) == ("pothole", 0.9)
    unsure = _advice(("pothole", 0.5), kind="category")
    assert category_of("flooding", 0.7, unsure) == ("flooding", 0.7)
    # a department router never changes the category
    assert category_of("flooding", 0.7, _advice(("city_roads", 0.99))) == ("flooding", 0.7)


def test_outbound_decisions_carry_the_labels_not_the_past_tickets(city: City) -> None:
    case = advised_case(city, UNCLASSIFIED, None, _advice(("street_lighting", 0.91)))
    out = outbound(case.rule)
    assert out.advice is not None and out.advice.top == case.rule.advice.top  # type: ignore[union-attr]
    assert out.advice.similar == () and "路灯不亮" not in out.model_dump_json()
    assert case.rule.advice is not None and case.rule.advice.similar  # the stored one keeps them


def test_past_tickets_by_the_department_they_were_routed_to(city: City) -> None:
    stored = {
        "kind": "category",
        "similar": [
            {"text": "积水", "label": "flooding", "similarity": 0.8},
            {"text": "坑", "label": "pothole", "similarity": 0.7},
            {"text": "?", "label": "no_such_category", "similarity": 0.6},
        ],
    }
    drainage = similar_routed_to(city, stored, "water_drainage", "xicheng")
    assert [t["text"] for t in drainage] == ["积水"]
    assert [t["text"] for t in similar_routed_to(city, stored, "city_roads", "nanhu")] == ["坑"]
    assert len(similar_routed_to(city, stored, None, None)) == 3  # an admin's view
    by_dept = {"kind": "department", "similar": [{"text": "a", "label": "city_roads"}]}
    assert similar_routed_to(city, by_dept, "water_drainage", None) == []
