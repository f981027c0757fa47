"""Captions name what the renderer drew, and only that."""

from __future__ import annotations

import numpy as np

from citybrain.core.city import City
from citybrain.sim.captions import PHRASES, caption, visible_categories
from citybrain.sim.dataset import plan_frames
from citybrain.sim.render import DRAWN_CATEGORIES, Box, render_annotated


def _classes(city: City) -> dict[str, tuple[str, ...]]:
    return {c.id: c.detector_classes for c in city.categories}


def test_canonical_caption_lists_every_category_in_order() -> None:
    text = caption(["overflowing_bin", "fallen_tree"], night=False)
    assert text == "a street camera view with an overflowing garbage bin and a fallen tree"
    three = caption(["pothole", "flooding", "smoke_fire"], night=True)
    assert three == (
        "a street camera view at night with a pothole in the road, a flooded road "
        "and smoke and fire"
    )


def test_calm_street_and_unknown_categories() -> None:
    assert caption([], night=False) == "a street camera view of an ordinary street with traffic"
    assert caption(["noise"], night=False) == caption([], night=False)  # not drawable


def test_random_phrasing_is_seeded_and_uses_the_category_phrases() -> None:
    a = [caption(["pothole"], False, np.random.default_rng(3)) for _ in range(3)]
    b = [caption(["pothole"], False, np.random.default_rng(3)) for _ in range(3)]
    assert a == b
    texts = {caption(["pothole"], False, np.random.default_rng(s)) for s in range(30)}
    assert len(texts) > 3
    assert all(any(p in t for p in PHRASES["pothole"]) for t in texts)


def test_every_drawable_category_has_phrases() -> None:
    assert set(DRAWN_CATEGORIES) <= set(PHRASES)


def test_visible_categories_need_a_box_of_their_own_class(city: City) -> None:
    boxes = [Box("vehicle", 0, 0, 0.1, 0.1), Box("pothole", 0.4, 0.8, 0.5, 0.9)]
    drawn = ["pothole", "fallen_tree", "illegal_parking"]
    # fallen tree drawn but hidden (no box); a parked car is a vehicle like the traffic
    assert visible_categories(drawn, boxes, _classes(city)) == ["pothole", "illegal_parking"]


def test_captions_of_rendered_frames_follow_their_boxes(city: City) -> None:
    classes = _classes(city)
    for plan in plan_frames(city, "val", 12, seed=4):
        _, boxes = render_annotated(plan.camera, plan.events, plan.t, 320, 180, plan.noise_rng())
        shown = visible_categories([e.category for e in plan.events], boxes, classes)
        text = caption(shown, night=False)
        seen = {b.cls for b in boxes}
        for cat in shown:
            assert PHRASES[cat][0] in text
            specific = set(classes[cat]) - {"vehicle"}
            assert not specific or specific & seen
        if not shown:
            assert "ordinary street" in text
