"""Pseudo-labels: only confident people and vehicles, renamed to the detector's classes, and
never a class the detector lacks."""

from __future__ import annotations

import numpy as np
import pytest

from citybrain.vision.detections import Detections
from citybrain.vision.pseudo_labels import PseudoLabeller, keep_boxes

NAMES = ["vehicle", "person", "garbage"]


def test_confident_people_and_vehicles_are_kept_and_renamed() -> None:
    det = Detections.from_named(
        np.array(
            [
                [0.1, 0.1, 0.2, 0.3],
                [0.5, 0.5, 0.9, 1.2],
                [0.0, 0.0, 0.1, 0.1],
                [0.3, 0.3, 0.4, 0.4],
            ],
            np.float32,
        ),
        np.array([0.8, 0.6, 0.9, 0.2], np.float32),
        ("person", "truck", "kite", "car"),
    )
    classes, boxes = keep_boxes(det, NAMES, min_conf=0.3)
    assert classes == ["person", "vehicle"]  # the kite is no city class; the car is unsure
    assert boxes[1] == pytest.approx((0.5, 0.5, 0.9, 1.0))  # clipped to the image


def test_a_mapping_to_a_class_the_detector_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="cyclist"):
        PseudoLabeller(lambda images: [], NAMES, 0.3, {"bicycle": "cyclist"})
