import numpy as np
import pytest

from citybrain.core.city import City, Zone
from citybrain.core.zones import class_categories, evidence_by_category, in_zone, zone_mask


def test_detections_count_for_the_zone_under_their_footprint(city: City) -> None:
    cam = city.camera_by_id["cam-01"]
    classes = class_categories(city)
    dets = [
        ("vehicle", 0.8, (0.86, 0.70, 0.98, 0.90)),  # stands in the kerb zone: parking evidence
        ("vehicle", 0.9, (0.45, 0.60, 0.55, 0.75)),  # on the carriageway: not parking
        ("pothole", 0.7, (0.45, 0.80, 0.55, 0.90)),  # on the carriageway
        ("pothole", 0.7, (0.02, 0.05, 0.10, 0.10)),  # in the sky: no zone watches it there
        ("smoke", 0.6, (0.30, 0.05, 0.50, 0.30)),  # whole-view zone
        ("unknown_thing", 0.99, (0.4, 0.4, 0.6, 0.6)),
    ]
    names = [d[0] for d in dets]
    conf = np.array([d[1] for d in dets], np.float32)
    boxes = np.array([d[2] for d in dets], np.float32)
    out = evidence_by_category(cam, names, conf, boxes, classes, np.array([7, -1, 3, 3, 5, 1]))
    assert sorted(out) == ["illegal_parking", "pothole", "smoke_fire"]
    assert [d.zone for d in out["illegal_parking"]] == ["kerb"]
    assert len(out["pothole"]) == 1 and out["pothole"][0].zone == "roadway"
    assert out["smoke_fire"][0].zone == "scene"
    # The tracker's ids travel with the evidence; a box no track holds has none.
    assert out["illegal_parking"][0].track_id == 7 and out["pothole"][0].track_id == 3
    assert evidence_by_category(cam, [], conf[:0], boxes[:0], classes) == {}


def test_classes_map_to_taxonomy(city: City) -> None:
    classes = class_categories(city)
    assert classes["fire"] == ("smoke_fire",)
    assert classes["vehicle"] == ("illegal_parking",)


@pytest.mark.parametrize(
    ("footprint", "box", "counts"),
    [
        # a wide puddle whose bottom edge lies below the zone, its centre and most of it inside
        ("bottom_center", (0.3, 0.3, 0.7, 0.75), False),
        ("center", (0.3, 0.3, 0.7, 0.75), True),
        ("overlap", (0.3, 0.3, 0.7, 0.75), True),
        # a box mostly outside: centre in, but only a third of its area
        ("center", (0.4, 0.0, 0.6, 0.9), True),
        ("overlap", (0.4, 0.0, 0.6, 0.9), False),
    ],
)
def test_each_zone_chooses_its_footprint(footprint: str, box: tuple, counts: bool) -> None:  # type: ignore[type-arg]
    zone = Zone(
        id="z", name="z", categories=("flooding",), footprint=footprint,  # type: ignore[arg-type]
        polygon=((0.2, 0.2), (0.8, 0.2), (0.8, 0.6), (0.2, 0.6)),
    )  # fmt: skip
    assert in_zone(zone, box) is counts


def test_a_zone_tests_a_whole_frame_of_boxes_at_once() -> None:
    zone = Zone(
        id="z", name="z", categories=("flooding",), footprint="bottom_center",
        polygon=((0.2, 0.2), (0.8, 0.2), (0.8, 1.0), (0.2, 1.0)),
    )  # fmt: skip
    boxes = np.array(
        [
            [0.3, 0.3, 0.5, 0.5],  # inside
            [0.0, 0.0, 0.1, 0.1],  # outside
            [0.3, 0.5, 0.5, 1.0],  # standing on the zone's bottom edge: counts
        ]
    )
    assert zone_mask(zone, boxes).tolist() == [True, False, True]
    assert zone_mask(zone, np.zeros((0, 4))).tolist() == []
