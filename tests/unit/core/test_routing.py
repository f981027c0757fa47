import pytest

from citybrain.core.city import City
from citybrain.core.routing import route


@pytest.mark.parametrize(
    ("category", "district", "department"),
    [
        ("pothole", "xicheng", "city_roads"),
        ("flooding", None, "water_drainage"),
        ("illegal_parking", "beicheng", "traffic_police_north"),
        ("illegal_parking", "gaoxin", "traffic_police_south"),
        ("overflowing_bin", "nanhu", "sanitation_west"),
        ("overflowing_bin", "dongcheng", "sanitation_east"),
    ],
)
def test_responsibility_list_decides(
    city: City, category: str, district: str | None, department: str
) -> None:
    d = route(city, category, district)
    assert (d.department, d.decided_by) == (department, "rule")
    assert category in d.reason


def test_split_category_without_place_goes_to_triage(city: City) -> None:
    d = route(city, "illegal_parking", None)
    assert (d.department, d.decided_by) == ("hotline_triage", "fallback")
    assert "split by district" in d.reason


def test_unclassified_goes_to_triage(city: City) -> None:
    d = route(city, "unclassified", "xicheng")
    assert (d.department, d.decided_by) == ("hotline_triage", "fallback")


def test_most_specific_line_wins(city: City) -> None:
    # overflowing_bin has (nanhu -> west) and (* -> east): nanhu must not fall to the wildcard.
    assert route(city, "overflowing_bin", "nanhu").department == "sanitation_west"
    assert route(city, "overflowing_bin", "jiangbin").department == "sanitation_east"
