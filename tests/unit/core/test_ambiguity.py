"""When the responsibility list decides alone, and when a model may propose a department."""

from __future__ import annotations

from citybrain.core.ambiguity import routing_case
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.messages import GeoPoint


def test_clear_category_and_place_is_decided_by_the_list(city: City) -> None:
    case = routing_case(city, "flooding", "xicheng", GeoPoint(lon=120.12, lat=30.28), 25)
    assert not case.ambiguous and case.rule.department == "water_drainage"


def test_unclassified_text_may_go_to_any_department(city: City) -> None:
    case = routing_case(city, UNCLASSIFIED, None)
    assert case.ambiguous and set(case.candidates) == {d.id for d in city.departments}
    assert case.rule.decided_by == "fallback" and case.rule.department == city.triage_department
    # switched off, such text goes straight to triage
    assert not routing_case(city, UNCLASSIFIED, None, unclassified=False).ambiguous


def test_shared_category_without_a_district(city: City) -> None:
    case = routing_case(city, "illegal_parking", None)
    assert set(case.candidates) == {
        "traffic_police_north",
        "traffic_police_south",
        city.triage_department,
    }
    assert "shared by 2 departments" in case.why


def test_place_on_a_border_between_departments(city: City) -> None:
    # xicheng (west sanitation) meets beicheng (east sanitation) at lon 120.14
    on_border = GeoPoint(lon=120.1399, lat=30.28)
    case = routing_case(city, "overflowing_bin", "xicheng", on_border, 25)
    assert case.candidates == ("sanitation_west", "sanitation_east")
    assert "border with beicheng" in case.why
    # the same place for a category one department handles everywhere is not ambiguous
    assert not routing_case(city, "pothole", "xicheng", on_border, 25).ambiguous
    # nor is it when border checks are off, or the place is well inside
    assert not routing_case(city, "overflowing_bin", "xicheng", on_border, 0).ambiguous
    inside = GeoPoint(lon=120.12, lat=30.28)
    assert not routing_case(city, "overflowing_bin", "xicheng", inside, 25).ambiguous
