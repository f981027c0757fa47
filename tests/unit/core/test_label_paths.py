"""Path labels (一级/二级分类): levels, the fallback to a confident upper level, routing on any
level of the responsibility list, and history labels deeper than the city's taxonomy."""

from __future__ import annotations

import pytest

from citybrain.core.advised import category_of
from citybrain.core.city import City, Responsibility
from citybrain.core.history import Columns, Example, HistoryReport, clean_history, fit_to_taxonomy
from citybrain.core.label_paths import ancestors, choose_level, level_accuracy, prefix
from citybrain.core.messages import LabelScore, RouterAdvice
from citybrain.core.routing import route


def test_levels_and_prefixes() -> None:
    assert ancestors("a/b/c") == ("a/b/c", "a/b", "a")
    assert prefix("a/b/c", 2) == "a/b" and prefix("a", 3) == "a"


def test_a_confident_leaf_is_kept() -> None:
    pick = choose_level(["a/x", "a/y", "b/z"], [0.9, 0.05, 0.05], 0.8)
    assert (pick.label, pick.level, pick.fell_back) == ("a/x", 2, False)


def test_an_unsure_leaf_falls_back_to_its_confident_parent() -> None:
    pick = choose_level(["a/x", "a/y", "b/z"], [0.5, 0.45, 0.05], 0.8)
    assert (pick.label, pick.level, pick.fell_back) == ("a", 1, True)
    assert pick.p == pytest.approx(0.95)


def test_when_no_level_is_confident_the_top_level_best_is_returned_with_its_p() -> None:
    pick = choose_level(["a/x", "b/y", "c/z"], [0.4, 0.35, 0.25], 0.8)
    assert (pick.label, pick.level) == ("a", 1) and pick.p < 0.8


def test_accuracy_per_level() -> None:
    acc = level_accuracy(["a/x", "a/y", "b/z", "b/w"], ["a/x", "a/x", "b/w", "c/q"])
    assert acc == {1: 0.75, 2: 0.25}


def _path_city(city: City) -> City:
    lines = (
        Responsibility(category="water", district="*", department="water_drainage"),
        Responsibility(category="water/leak", district="xicheng", department="city_roads"),
    )
    return city.model_copy(update={"responsibilities": city.responsibilities + lines})


def test_the_responsibility_list_routes_a_path_on_any_level(city: City) -> None:
    c = _path_city(city)
    assert route(c, "water/leak", "xicheng").department == "city_roads"  # its own line
    assert route(c, "water/leak", "dongcheng").department == "water_drainage"  # the parent's
    assert route(c, "water/burst", None).department == "water_drainage"
    assert route(c, "sewer/blocked", None).decided_by == "fallback"


def test_a_category_router_unsure_of_the_leaf_gives_the_confident_parent() -> None:
    advice = RouterAdvice(
        router="r", kind="category", auto_threshold=0.8, min_confidence=0.2,
        top=(LabelScore(label="water/leak", p=0.5), LabelScore(label="water/burst", p=0.4),
             LabelScore(label="roads/pothole", p=0.1)),
    )  # fmt: skip
    assert category_of("unclassified", 0.0, advice) == ("water", pytest.approx(0.9))


def test_history_paths_are_normalised_and_cut_to_the_citys_taxonomy() -> None:
    rows = [
        {"t": "自来水管破裂", "l": " water / leak / main "},
        {"t": "路面坑洼", "l": "roads/pothole"},
        {"t": "水管漏水", "l": "water/leak"},
        {"t": "路上有坑", "l": "roads/pothole"},
    ]
    examples, report = clean_history(rows, Columns("t", "l"), min_examples=1)
    assert examples[0].label == "water/leak/main"
    fitted = fit_to_taxonomy(examples, {"water/leak", "roads/pothole"}, report)
    assert [e.label for e in fitted] == [
        "water/leak",
        "roads/pothole",
        "water/leak",
        "roads/pothole",
    ]
    assert report.repaired["label path deeper than the city's taxonomy: cut"] == 1
    assert report.labels["water/leak"] == 2
    unknown = fit_to_taxonomy([Example("x", "sewer/a")], {"water"}, HistoryReport())
    assert unknown[0].label == "sewer/a"  # left for the label check to name
